"""Per-stage timings, liveness outcomes and process memory, read through the real HTTP server."""
from __future__ import annotations

import threading

from edge_face import observability
from tests.test_api_ops import VERIFY, _sample


def test_stage_histograms_grow_with_a_real_verification(api, photos):
    before = api.get("/metrics").text
    api.assert_alive(photos)
    text = api.get("/metrics").text
    assert "# TYPE edge_face_stage_duration_seconds histogram" in text
    for stage, at_least in (("decode", 2), ("detect", 2), ("align", 2), ("embed", 2)):
        count = _sample(text, "edge_face_stage_duration_seconds_count", stage=stage)
        assert count - _sample(before, "edge_face_stage_duration_seconds_count", stage=stage) >= at_least, stage
        assert _sample(text, "edge_face_stage_duration_seconds_bucket", stage=stage, le="+Inf") == count
        assert _sample(text, "edge_face_stage_duration_seconds_sum", stage=stage) > 0


def test_a_failed_decode_is_timed_too(api):
    before = _sample(api.get("/metrics").text, "edge_face_stage_duration_seconds_count", stage="decode")
    resp = api.post(VERIFY, {"first_encrypted_image": api.encrypt(b"not a jpeg"),
                             "second_encrypted_image": api.encrypt(b"nor this")})
    assert resp.status_code == 400
    assert _sample(api.get("/metrics").text, "edge_face_stage_duration_seconds_count", stage="decode") > before


def test_process_memory_is_the_servers_rss(api):
    rss = _sample(api.get("/metrics").text, "process_resident_memory_bytes")
    # The test server runs in this process: the same VmRSS, give or take what moved in between.
    assert 20e6 < rss and abs(rss - observability.rss_bytes()) < 0.2 * rss


def test_liveness_outcomes_are_exported(api):
    before = _sample(api.get("/metrics").text, "edge_face_liveness_outcomes_total", outcome="spoof")
    observability.liveness_outcome("spoof")
    text = api.get("/metrics").text
    assert "# TYPE edge_face_liveness_outcomes_total counter" in text
    assert _sample(text, "edge_face_liveness_outcomes_total", outcome="spoof") == before + 1


def test_readyz_reports_warm_up_backends_and_the_camera(api):
    body = api.get("/readyz").json()
    assert body["warmed"] is True
    assert all(m["backend"] for m in body["models"].values())
    assert body["camera"] == {"state": "none"}


def test_stages_timed_from_many_threads_all_count():
    def count() -> float:
        return observability.REGISTRY.get_sample_value("edge_face_stage_duration_seconds_count",
                                                       {"stage": "threads"}) or 0.0

    def work() -> None:
        for _ in range(2000):
            with observability.stage("threads"):
                pass

    before = count()
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count() - before == 8000
