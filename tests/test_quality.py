"""Quality (§2.1) fields and the 4004 occlusion gate on real photos with the real models; 2.1 over real HTTP."""
from __future__ import annotations


import cv2
import numpy as np
import pytest

from edge_face.pipeline.quality import distance2center, size
from edge_face_tools.occluders import draw, load_mask_textures
from edge_face_tools.pose import rotate_about

QUALITY = "/quality/face/stateless"
VERIFY = "/identity/image_verification/stateless"


def load(photos, name: str) -> np.ndarray:
    img = cv2.imread(str(photos / name))
    assert img is not None
    return img


def main(service, img: np.ndarray):
    faces = service.quality(img)
    assert faces, "no face"
    return max(faces, key=lambda q: q.size)


def jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buf.tobytes()


def occluded(service, photos, kind: str, seed: int = 0) -> np.ndarray:
    img = load(photos, "obama.jpg")
    face = service.detector.detect(img)[0]
    out, _ = draw(img, face.landmarks, kind, np.random.default_rng(seed), load_mask_textures(photos))
    return out


@pytest.mark.parametrize("angle", [-20.0, -8.0, 12.0, 25.0])
def test_roll_follows_a_known_rotation_within_3_degrees(face_service, photos, angle):
    img = load(photos, "obama.jpg")
    base = main(face_service, img)
    f = face_service.detector.detect(img)[0]
    centre = (float(f.box[0] + f.box[2]) / 2, float(f.box[1] + f.box[3]) / 2)
    turned = main(face_service, rotate_about(img, centre, angle))
    # counter-clockwise on screen (cv2's positive angle) is a negative change of roll (clockwise-positive, y down)
    assert abs((turned.pose.roll - base.pose.roll) + angle) <= 3.0


@pytest.mark.parametrize("name", ["obama2.jpg", "biden.jpg"])
def test_yaw_changes_sign_on_the_mirrored_photo(face_service, photos, name):
    img = load(photos, name)
    a = main(face_service, img).pose.yaw
    b = main(face_service, np.ascontiguousarray(img[:, ::-1])).pose.yaw
    assert abs(a) > 5 and abs(b) > 5 and np.sign(a) == -np.sign(b)


def test_frontal_face_has_small_pose(face_service, photos):
    pose = main(face_service, load(photos, "obama.jpg")).pose
    assert abs(pose.yaw) < 10 and abs(pose.pitch) < 15 and abs(pose.roll) < 5


def test_brightness_falls_on_a_darker_photo(face_service, photos):
    img = load(photos, "obama.jpg")
    bright = main(face_service, img).brightness
    dark = main(face_service, (img * 0.45).astype(np.uint8)).brightness
    assert -1 <= dark < bright - 0.2 <= 1


def test_sharpness_falls_on_a_blurred_photo(face_service, photos):
    img = load(photos, "obama.jpg")
    sharp = main(face_service, img).sharpness
    blurred = main(face_service, cv2.GaussianBlur(img, (0, 0), 6)).sharpness
    assert 0 <= blurred < sharp / 2 and sharp <= 1


def test_size_and_distance2center_follow_the_documented_formulas(face_service, photos):
    img = load(photos, "obama.jpg")
    h, w = img.shape[:2]
    q = main(face_service, img)
    l, t, r, b = q.rect
    assert q.size == pytest.approx((r - l) * (b - t) / (w * h))
    d = np.hypot((l + r) / 2 - w / 2, (t + b) / 2 - h / 2)
    assert q.distance2center == pytest.approx(max(1 - d / min(w, h), 0))
    # the same face in the corner of a canvas three times as big: smaller and farther from the centre
    canvas = np.zeros((h * 3, w * 3, 3), np.uint8)
    canvas[:h, :w] = img
    q2 = main(face_service, canvas)
    assert q2.size == pytest.approx(q.size / 9, rel=0.1)
    assert q2.distance2center < q.distance2center
    assert distance2center((0, 0, 2, 2), 400, 100) == 0.0  # clipped at 0 (centre 2 short sides away)
    assert size((10, 10, 60, 60), 100, 100) == pytest.approx(0.25)


def test_mouth_open_separates_open_and_closed_mouths(face_service, photos):
    closed = main(face_service, load(photos, "biden.jpg")).mouth_open
    opened = main(face_service, load(photos, "obama2.jpg")).mouth_open
    assert 0 <= closed < 0.2 and opened > closed + 0.3 and opened <= 1


def test_every_face_of_a_group_is_reported(face_service, photos):
    faces = face_service.quality(load(photos, "t1.jpg"))
    assert len(faces) == 6
    for q in faces:
        assert set(q.occlusion) == {"left_eye", "right_eye", "nose", "mouth", "total"}
        assert all(0 <= v <= 1 for v in q.occlusion.values())


def test_clean_faces_pass_the_occlusion_gate(face_service, photos):
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"):
        assert face_service.check_occlusion(load(photos, name)) == [], name
    q = main(face_service, load(photos, "obama.jpg"))
    assert min(q.occlusion.values()) > 0.7


@pytest.mark.parametrize("kind,expected", [("sunglasses", {"left_eye", "right_eye"}), ("mask", {"nose", "mouth"}),
                                           ("bar_mouth", {"mouth"}), ("bar_eyes", {"left_eye", "right_eye"})])
def test_gate_refuses_covered_features(face_service, photos, kind, expected):
    covered = set(face_service.check_occlusion(occluded(face_service, photos, kind)))
    assert covered & expected, (kind, covered)
    assert covered <= expected | {"nose"}, (kind, covered)  # nothing far from the occluder is blamed


def test_quality_reports_the_covered_region_as_less_visible(face_service, photos):
    clean = main(face_service, load(photos, "obama.jpg")).occlusion
    masked = main(face_service, occluded(face_service, photos, "mask")).occlusion
    assert masked["mouth"] < clean["mouth"] - 0.5 and masked["total"] < clean["total"]


# --- over real HTTP ----------------------------------------------------------------------------------------


def test_quality_endpoint_in_the_documented_shape(api, photos):
    resp = api.post(QUALITY, {"encrypted_image": api.encrypt((photos / "obama.jpg").read_bytes())})
    body = resp.json()
    assert resp.status_code == 200 and body["code"] == 1000, body
    assert list(body) == ["code", "faces", "request_id"]
    (face,) = body["faces"]
    assert set(face) == {"rect", "pose", "occlusion", "distance2center", "size", "brightness", "sharpness",
                         "mouth_open"}
    assert set(face["rect"]) == {"left", "top", "right", "bottom"} and face["rect"]["right"] > face["rect"]["left"]
    assert set(face["pose"]) == {"yaw", "pitch", "roll"}
    assert set(face["occlusion"]) == {"left_eye", "right_eye", "nose", "mouth", "total"}
    assert 0 < face["size"] < 1 and 0 < face["distance2center"] <= 1 and -1 <= face["brightness"] <= 1
    assert 0 <= face["sharpness"] <= 1 and 0 <= face["mouth_open"] <= 1


def test_quality_endpoint_lists_every_face_and_multipart_works(api, photos):
    files = {"encrypted_image": ("t1.jpg", api.encrypt((photos / "t1.jpg").read_bytes()).encode())}
    body = api.post(QUALITY, files=files).json()
    assert body["code"] == 1000 and len(body["faces"]) == 6
    tops = [f["rect"]["top"] for f in body["faces"]]
    assert tops == sorted(tops)


@pytest.mark.parametrize("fields,status,code", [
    (lambda a, p: {"encrypted_image": a.encrypt(b"not a photo at all")}, 400, 2005),
    (lambda a, p: {"encrypted_image": "%%%"}, 400, 1200),
])
def test_quality_endpoint_errors(api, photos, fields, status, code):
    resp = api.post(QUALITY, fields(api, photos))
    assert resp.status_code == status and resp.json()["code"] == code, resp.json()
    api.assert_alive(photos)


def test_check_quality_refuses_an_occluded_photo_with_4004(api, face_service, photos):
    masked = jpeg(occluded(face_service, photos, "mask"))
    clean = (photos / "obama2.jpg").read_bytes()
    resp = api.post(VERIFY, api.pair(clean, masked, check_quality="true"))
    body = resp.json()
    assert resp.status_code == 400 and body["code"] == 4004, body
    assert "second" in body["message"] and ("mouth" in body["message"] or "nose" in body["message"])
    # without check_quality the same pair is compared
    assert api.post(VERIFY, api.pair(clean, masked)).json()["code"] == 1000
    glasses = jpeg(occluded(face_service, photos, "sunglasses"))
    body = api.post(VERIFY, api.pair(glasses, clean, check_quality="true")).json()
    assert body["code"] == 4004 and "first" in body["message"] and "eye" in body["message"]


def test_check_quality_passes_clean_photos(api, photos):
    pair = api.pair((photos / "obama.jpg").read_bytes(), (photos / "obama2.jpg").read_bytes(), check_quality="true")
    body = api.post(VERIFY, pair).json()
    assert body["code"] == 1000 and body["verification_score"] > 0.7
