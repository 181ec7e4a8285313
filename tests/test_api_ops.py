"""Operations endpoints, the optional API key, request ids and the access log, over real HTTP."""
from __future__ import annotations

import re
import time

from prometheus_client.parser import text_string_to_metric_families

VERIFY = "/identity/image_verification/stateless"
ALL_PAIRS = "/identity/multiface_image_omni_verification/stateless"


def test_healthz(api):
    resp = api.get("/healthz")
    assert resp.status_code == 200 and resp.json()["status"] == "ok" and resp.json()["request_id"]


def test_readyz_describes_the_loaded_models(api, face_service):
    resp = api.get("/readyz")
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "ready"
    assert body["models"] and body["thresholds"]
    assert body["models"] == face_service.describe()["models"]


def test_readyz_is_503_when_the_models_cannot_load(api_server, tmp_path_factory):
    # A server that loads its own FaceService, from an empty models folder: it must stay up and say why not ready.
    broken = api_server(service=None, models_dir=tmp_path_factory.mktemp("no-models"))
    deadline = time.monotonic() + 30
    while (body := broken.get("/readyz").json())["status"] == "loading":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert body["status"] == "failed"
    assert broken.get("/readyz").status_code == 503
    assert broken.get("/healthz").status_code == 200
    resp = broken.post(VERIFY, {"first_encrypted_image": "a", "second_encrypted_image": "b"})
    assert resp.status_code == 503 and resp.json()["code"] == 5000 and "not ready" in resp.json()["message"]
    assert "edge_face_ready 0" in broken.get("/metrics").text


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` with exactly these labels (in any order), 0 when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_metrics_count_requests_by_endpoint_and_code(api, photos):
    before = api.get("/metrics").text
    api.post(VERIFY, {"first_encrypted_image": "x"})
    api.assert_alive(photos)
    resp = api.get("/metrics")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = resp.text
    assert "# TYPE edge_face_http_requests_total counter" in text
    assert "# TYPE edge_face_http_request_duration_seconds histogram" in text
    assert _sample(text, "edge_face_ready") == 1
    backend_lines = [ln for ln in text.splitlines() if ln.startswith("edge_face_model_backend{")]
    assert any('model="yunet"' in ln and 'backend="cpu-xnnpack' in ln and 'fallback="0"' in ln
               for ln in backend_lines), backend_lines
    for code, status in (("1200", "400"), ("1000", "200")):
        labels = {"endpoint": VERIFY, "code": code, "status": status}
        assert _sample(text, "edge_face_http_requests_total", **labels) == \
            _sample(before, "edge_face_http_requests_total", **labels) + 1
    count = _sample(text, "edge_face_http_request_duration_seconds_count", endpoint=VERIFY)
    assert count >= 2 and _sample(text, "edge_face_http_request_duration_seconds_bucket", endpoint=VERIFY,
                                  le="+Inf") == count
    assert _sample(text, "edge_face_http_request_duration_seconds_sum", endpoint=VERIFY) > 0
    # Unknown paths share one label, so scanners cannot blow up the series.
    api.get("/wp-admin/x")
    assert 'endpoint="unmatched"' in api.get("/metrics").text and "wp-admin" not in api.get("/metrics").text


def test_metrics_parse_and_hold_the_histogram_of_a_real_request(api, api_server, photos):
    # Every family a dashboard reads, by the names the parser gives (counters without _total), and nothing else.
    api.assert_alive(photos)
    families = {f.name: f for f in text_string_to_metric_families(api.get("/metrics").text)}
    assert {name: f.type for name, f in families.items()} == {
        "edge_face_ready": "gauge", "edge_face_model_backend": "gauge", "edge_face_http_requests": "counter",
        "edge_face_http_request_duration_seconds": "histogram", "edge_face_stage_duration_seconds": "histogram",
        "edge_face_liveness_outcomes": "counter", "edge_face_liveness_decided_by": "counter",
        "process_resident_memory_bytes": "gauge"}
    samples = [s for s in families["edge_face_http_request_duration_seconds"].samples
               if s.labels.get("endpoint") == VERIFY]
    buckets = [(s.labels["le"], s.value) for s in samples if s.name.endswith("_bucket")]
    assert [le for le, _ in buckets] == ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5",
                                         "5.0", "10.0", "+Inf"]
    counts = [n for _, n in buckets]
    assert counts == sorted(counts) and counts[-1] >= 1  # cumulative, the request counted
    (total,) = [s.value for s in samples if s.name.endswith("_count")]
    (seconds,) = [s.value for s in samples if s.name.endswith("_sum")]
    assert total == counts[-1] and 0 < seconds < 120 * total
    # Request metrics are per app: a second server in this process has not seen this one's requests.
    other = text_string_to_metric_families(api_server(api_keys=("metrics-only",)).get("/metrics").text)
    assert not [s for f in other if f.name.startswith("edge_face_http_") for s in f.samples
                if s.labels.get("endpoint") == VERIFY]


def test_request_ids_are_unique_and_logged_without_field_contents(api, photos, caplog):
    fields = {"first_encrypted_image": api.encrypt(b"secret photo bytes"), "second_encrypted_image": "zzz"}
    with caplog.at_level("INFO", logger="edge_face.api.access"):
        answers = [api.post(VERIFY, fields).json() for _ in range(3)]
        deadline = time.monotonic() + 5
        while len([r for r in caplog.records if r.name == "edge_face.api.access"]) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    ids = [a["request_id"] for a in answers]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    lines = [r.getMessage() for r in caplog.records if r.name == "edge_face.api.access"]
    for rid in ids:
        (line,) = [m for m in lines if rid in m]
        assert re.fullmatch(rf"POST {VERIFY} code=1200 status=400 ms=\d+\.\d request_id={rid}", line), line
    assert not any(fields["first_encrypted_image"][:20] in m or "zzz" in m for m in lines)


def test_api_key_when_configured(api_server, photos):
    keyed = api_server(api_keys=("k-one", "k-two"))
    fields = keyed.pair((photos / "obama.jpg").read_bytes(), (photos / "obama2.jpg").read_bytes())
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-API-Key": "k-on"}, {"Authorization": "k-one"},
                    {"Authorization": "Basic k-one"}):
        resp = keyed.post(VERIFY, fields, headers=headers)
        assert resp.status_code == 401, headers
        assert resp.json()["code"] == 1200 and resp.json()["request_id"]
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = keyed.post(ALL_PAIRS, fields)
    assert resp.status_code == 401
    for headers in ({"Authorization": "Bearer k-one"}, {"authorization": "bearer k-two"}, {"X-API-Key": "k-two"}):
        keyed.assert_alive(photos, headers=headers)
    # Operations endpoints stay open for supervisors; unknown paths are still 404.
    assert keyed.get("/healthz").status_code == 200 and keyed.get("/readyz").status_code == 200
    assert keyed.get("/metrics").status_code == 200
    assert keyed.get("/nope").status_code == 404


def test_client_sends_the_api_key(api_server, photos):
    from edge_face.client import EdgeFaceClient

    keyed = api_server(api_keys=("k-one", "k-two"))
    ok = EdgeFaceClient(keyed.url, api_key="k-two").verify(photos / "obama.jpg", photos / "obama2.jpg")
    assert ok["code"] == 1000
    refused = EdgeFaceClient(keyed.url, api_key="nope").verify(photos / "obama.jpg", photos / "obama2.jpg")
    assert refused["code"] == 1200 and "API key" in refused["message"]


def test_no_api_key_needed_when_none_configured(api, photos):
    api.assert_alive(photos, headers={"Authorization": "Bearer anything"})
