"""The hand-written hostile cases of the fuzz run (edge_face/bench/hostile.py) over real HTTP, fast enough for
`make test`: each gets its documented status and code, none a 5xx, and the server verifies a valid pair after."""
from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from edge_face_tools import hostile

KEY, TOKEN = "hostile-key", "hostile-token"
BODY_LIMIT = 4 * 1024 * 1024  # small, so the huge cases stay cheap; the fuzz run uses the deployment's 32 MB


@pytest.fixture(scope="module")
def guarded(api_server, api_config):
    return api_server(api_keys=(KEY,), frs_tokens=(TOKEN,),
                      limits=replace(api_config.limits, max_body_bytes=BODY_LIMIT))


def test_hostile_cases_get_their_documented_answers(guarded, photos):
    import requests

    photo = (photos / "obama.jpg").read_bytes()
    cases = hostile.cases(photo, guarded.cipher, KEY, TOKEN, BODY_LIMIT)
    assert len(cases) >= 45

    def alive() -> bool:
        return requests.get(guarded.url + "/healthz", timeout=10).status_code == 200

    report = hostile.run_all(guarded.url, cases, alive)
    wrong = [o for o in report["outcomes"] if not o["ok"]]
    assert wrong == [], wrong
    assert report["server_errors_5xx"] == 0 and report["no_answer"] == 0 and report["server_dead_after"] == []
    # A valid request of each face still succeeds afterwards.
    guarded.assert_alive(photos, headers={"Authorization": f"Bearer {KEY}"})
    b64 = base64.b64encode(photo).decode()
    resp = requests.post(guarded.url + "/v2/p/face-compare", json={"image1_base64": b64, "image2_base64": b64},
                         headers={"X-Auth-Token": TOKEN}, timeout=60)
    assert resp.status_code == 200 and resp.json()["similarity"] > 0.93


def test_png_bomb_is_tiny_and_declares_billions_of_pixels():
    import struct

    bomb = hostile.png_bomb()
    assert len(bomb) < 2000 and bomb.startswith(b"\x89PNG\r\n\x1a\n") and bomb[12:16] == b"IHDR"
    assert struct.unpack(">II", bomb[16:24]) == (60_000, 60_000)
