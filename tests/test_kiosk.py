"""The kiosk page in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) against a
real server whose camera is the file camera of test_camera: the face box is drawn, the liveness result and the
verification against a reference photo are shown. Screenshots are kept in test-artifacts/kiosk/.

The kiosk's JSON endpoints are also tested directly: loopback only, hostile input gets documented errors."""
from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest
import requests

from tests.test_camera import (DEVICE, KEY, camera_config, camera_video, live_reference,  # noqa: F401 - fixtures
                               print_camera_video)

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "kiosk"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def kiosk(api_server, camera_video, tmp_path_factory):  # noqa: F811 - the fixture of test_camera
    return api_server(camera=camera_config(camera_video, tmp_path_factory.mktemp("kiosk-lock")),
                      device_key=KEY.hex(), device_id=DEVICE, api_keys=("kiosk-test-key",))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make test installs them as root)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def _wait(driver, script: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def _state(driver, element_id: str) -> str:
    return driver.execute_script(f"return document.getElementById('{element_id}').dataset.state")


def test_kiosk_page_shows_face_box_liveness_and_verification(kiosk, browser, photos, live_reference):
    browser.get(kiosk.url + "/kiosk")
    # The preview is drawn and the face box of the file camera's face is reported and painted.
    box = _wait(browser, "const c = document.getElementById('preview');"
                         "return c.dataset.faces === '1' ? c.dataset.box : null;")
    left, top, right, bottom = (int(v) for v in box.split(","))
    assert 0 <= left < right and 0 <= top < bottom
    width, height = browser.execute_script("const c = document.getElementById('preview'); return [c.width, c.height];")
    assert right <= width and bottom <= height
    # The box is really on the canvas: pixels on its outline are the box colour (yellow or green), not video.
    pixel = browser.execute_script(
        f"return Array.from(document.getElementById('preview').getContext('2d')"
        f".getImageData({(left + right) // 2}, {top}, 1, 1).data);")
    assert pixel[1] > 180 and (pixel[0] > 200 or pixel[2] > 100), pixel
    assert _wait(browser, "const s = document.getElementById('status').dataset.state;"
                          "return ['hold-still', 'ready'].includes(s) ? s : null;")
    browser.save_screenshot(str(ARTIFACTS / "1-face-box.png"))

    # Liveness over the camera session (the file camera's live woman passes, see test_camera), then a
    # verification against a reference photo: the same person, then another one. A package is single use, so the
    # page needs a new liveness check before each comparison.
    for photo, want in ((live_reference, "same"), (photos / "biden.jpg", "different")):
        assert browser.find_element("id", "verify").get_attribute("disabled")
        browser.find_element("id", "liveness").click()
        assert _state(browser, "liveness-result") == "checking"
        result = _wait(browser, "const s = document.getElementById('liveness-result').dataset.state;"
                                "return ['passed', 'failed', 'error'].includes(s) ? s : null;", timeout=120)
        browser.save_screenshot(str(ARTIFACTS / "2-liveness.png"))
        assert result == "passed", browser.find_element("id", "liveness-result").text
        assert "Passed" in browser.find_element("id", "liveness-result").text
        browser.find_element("id", "reference").send_keys(str(photo))
        _wait(browser, "return !document.getElementById('verify').disabled;")
        browser.find_element("id", "verify").click()
        got = _wait(browser, "const s = document.getElementById('verify-result').dataset.state;"
                             "return ['same', 'different', 'error'].includes(s) ? s : null;", timeout=60)
        browser.save_screenshot(str(ARTIFACTS / f"3-verify-{want}.png"))
        assert got == want, browser.find_element("id", "verify-result").text
    assert all((ARTIFACTS / n).stat().st_size > 10_000 for n in ("1-face-box.png", "2-liveness.png"))


def test_kiosk_page_fails_a_print_held_to_the_camera(api_server, browser, print_camera_video, tmp_path_factory):
    """obama.jpg panned in front of the kiosk's fixed camera: the page shows the liveness check failed, and the
    verification stays disabled (no package)."""
    server = api_server(camera=camera_config(print_camera_video, tmp_path_factory.mktemp("print-lock")),
                        device_key=KEY.hex(), device_id=DEVICE)
    browser.get(server.url + "/kiosk")
    _wait(browser, "const c = document.getElementById('preview'); return c.dataset.faces === '1';")
    browser.find_element("id", "liveness").click()
    result = _wait(browser, "const s = document.getElementById('liveness-result').dataset.state;"
                            "return ['passed', 'failed', 'error'].includes(s) ? s : null;", timeout=120)
    browser.save_screenshot(str(ARTIFACTS / "4-print-failed.png"))
    assert result == "failed", browser.find_element("id", "liveness-result").text
    assert browser.find_element("id", "verify").get_attribute("disabled")


def test_kiosk_page_says_no_face_when_the_camera_sees_none(api_server, browser, tmp_path_factory):
    import numpy as np

    from tests.test_camera import H, W, write_video

    empty = write_video(tmp_path_factory.mktemp("empty") / "empty.mp4",
                        [np.full((H, W, 3), 90, np.uint8) for _ in range(30)])
    server = api_server(camera=camera_config(empty, tmp_path_factory.mktemp("empty-lock")), device_key=KEY.hex(),
                        device_id=DEVICE)
    browser.get(server.url + "/kiosk")
    assert _wait(browser, "const s = document.getElementById('status').dataset.state;"
                          "return s === 'no-face' ? s : null;")
    assert browser.execute_script("return document.getElementById('preview').dataset.faces") == "0"
    assert "No face" in browser.find_element("id", "status").text
    browser.save_screenshot(str(ARTIFACTS / "0-no-face.png"))


def test_kiosk_endpoints_without_a_browser(kiosk, photos):
    page = requests.get(kiosk.url + "/kiosk", timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert requests.get(kiosk.url + "/kiosk/kiosk.js", timeout=30).headers["Content-Type"].startswith("text/javascript")
    assert requests.get(kiosk.url + "/kiosk/secrets.toml", timeout=30).status_code == 404
    preview = requests.get(kiosk.url + "/kiosk/preview", timeout=60).json()
    assert preview["code"] == 1000 and preview["image"].startswith("data:image/jpeg;base64,")
    assert len(preview["faces"]) == 1
    # No API key needed from loopback, though the server has one; the vendor endpoints still want it.
    assert requests.get(kiosk.url + "/camera/status", timeout=30).status_code == 401
    ref = (photos / "obama2.jpg").read_bytes()
    for fields, files, code in (
        ({"package": "not base64!"}, {"reference": ("r.jpg", ref)}, 2007),
        ({"package": base64.b64encode(b"forged package").decode()}, {"reference": ("r.jpg", ref)}, 2007),
        ({}, {"reference": ("r.jpg", ref)}, 1200),
        ({"package": "AAAA"}, None, 1200),
    ):
        resp = requests.post(kiosk.url + "/kiosk/verify", data=fields, files=files, timeout=60,
                             headers={"Origin": kiosk.url})
        assert resp.status_code == 400 and resp.json()["code"] == code, resp.text


def test_kiosk_answers_loopback_only(api_config, face_service):
    """The page's endpoints skip the API key because only this device's own screen may reach them."""
    from edge_face.api.app import create_app

    client = create_app(api_config, faces=face_service).test_client()
    for address, status in (("192.168.1.20", 403), ("10.0.0.5", 403), ("::ffff:192.168.1.20", 403),
                            ("127.0.0.1", 200), ("::1", 200)):
        resp = client.get("/kiosk", environ_base={"REMOTE_ADDR": address})
        assert resp.status_code == status, address
        if status == 403:
            assert resp.json["code"] == 1200 and "own screen" in resp.json["message"]
    assert client.post("/kiosk/verify", data={"package": "AAAA"},
                       environ_base={"REMOTE_ADDR": "10.0.0.5"}).status_code == 403
