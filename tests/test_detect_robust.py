"""Faces as people present them (issue 14 item 4, issue 16 item 2): masked, backlit, dark and small faces are found,
patterns and face-free textures are not, and a large photo is searched at a working resolution.

The masked and backlit faces are made from real fixture photos (tests/support/presented.py says how): a KN95-style
mask of insightface's real mask textures over biden.jpg, which the plain YuNet at the accept threshold misses.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_face.imaging import decode_image
from edge_face.pipeline.findfaces import FaceFinder
from edge_face.pipeline.mesh import FaceMesh
from tests.support.presented import backlight, underexpose, wear_mask

VERIFY = "/identity/image_verification/stateless"
QUALITY = "/quality/face/stateless"
TEXTURES = ("black", "blue")  # the two on which the plain detector finds nothing on biden (measured: green, white it finds)


def _jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def _iou(a, b) -> float:
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(rb - lt, 0, None)))
    return inter / (float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2])) - inter)


@pytest.fixture(scope="module")
def finder(face_service) -> FaceFinder:
    assert isinstance(face_service.detector, FaceFinder)
    return face_service.detector


@pytest.fixture(scope="module")
def masked(photos: Path, face_service, finder) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """biden.jpg wearing each mask texture pulled up to the nose bridge (KN95 style), with his unmasked face box."""
    img = decode_image((photos / "biden.jpg").read_bytes())
    face = finder.detector.detect(img)[0]
    points = FaceMesh.from_registry(face_service.registry).run(img, face).points
    return {c: (wear_mask(img, points, cv2.imread(str(photos / f"mask_{c}.jpg")), top=0.0), face.box)
            for c in TEXTURES}


@pytest.mark.parametrize("colour", TEXTURES)
def test_masked_face_missed_by_plain_yunet_is_found(masked, finder, colour):
    img, box = masked[colour]
    assert finder.detector.detect(img) == []  # the case of the issue: the single 0.87 threshold says "no face"
    faces = finder.detect(img)
    assert len(faces) == 1 and _iou(faces[0].box, box) > 0.6


@pytest.mark.parametrize("colour", TEXTURES)
def test_masked_face_over_http_is_4004_and_listed_by_quality(api, photos, masked, colour):
    img, box = masked[colour]
    resp = api.post(VERIFY, api.pair(_jpeg(img), (photos / "biden.jpg").read_bytes(), check_quality="true"))
    body = resp.json()
    assert resp.status_code == 400 and body["code"] == 4004, body
    assert "nose" in body["message"] and "mouth" in body["message"], body
    body = api.post(VERIFY, api.pair(_jpeg(img), (photos / "biden.jpg").read_bytes())).json()
    assert body["code"] == 1000, body  # without check_quality the masked face is compared (same person: eyes up)
    body = api.post(QUALITY, {"encrypted_image": api.encrypt(_jpeg(img))}).json()
    assert body["code"] == 1000 and len(body["faces"]) == 1, body
    occ = body["faces"][0]["occlusion"]
    assert occ["nose"] < 0.5 and occ["mouth"] < 0.5 and occ["left_eye"] > 0.5 and occ["right_eye"] > 0.5, occ


# light left on the underexposed frame: the plain detector misses all three; biden.jpg (a dark suit and room) is
# lost by the finder too under 6% (measured), obama*.jpg at 3%
@pytest.mark.parametrize("name, gain", [("obama.jpg", 0.04), ("obama2.jpg", 0.04), ("biden.jpg", 0.06)])
def test_backlit_and_underexposed_faces_are_found(photos, finder, name, gain):
    img = decode_image((photos / name).read_bytes())
    box = finder.detector.detect(img)[0].box
    made = {
        "backlit": backlight(img, box, face_gain=0.05, background_lift=0.9),  # face at 5% of its light, window behind
        "underexposed": underexpose(img, gain=gain),  # the whole frame at a few % of its light, with sensor noise
    }
    for kind, frame in made.items():
        frame = decode_image(_jpeg(frame, 75))
        assert finder.exposure_problem(frame) is not None, kind
        assert finder.detector.detect(frame) == [], kind  # YuNet alone finds nothing
        faces = finder.detect(frame)
        assert faces and _iou(faces[0].box, box) > 0.6, (kind, faces)


def _patterns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:480, 0:640]
    checker = (((yy // 40) + (xx // 40)) % 2 * 255).astype(np.uint8)
    blobs = np.full((480, 640, 3), 200, np.uint8)
    for cx in (220, 420):  # two dark "eyes" over a dark "mouth": the simplest face-like layout
        cv2.circle(blobs, (cx, 200), 28, (30, 30, 30), -1)
    cv2.ellipse(blobs, (320, 340), (90, 25), 0, 0, 360, (30, 30, 30), -1)
    return {
        "noise": rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
        "checker": cv2.cvtColor(checker, cv2.COLOR_GRAY2BGR),
        "stripes": cv2.cvtColor(((np.sin(xx / 9.0 + yy / 23.0) + 1) * 127).astype(np.uint8), cv2.COLOR_GRAY2BGR),
        "blobs": blobs,
        "dark_noise": underexpose(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), gain=0.05),
    }


@pytest.mark.parametrize("name", ["noise", "checker", "stripes", "blobs", "dark_noise"])
def test_patterns_are_not_faces(finder, name):
    assert finder.detect(_patterns()[name]) == []


@pytest.mark.parametrize("colour", ["black", "blue", "green", "white"])
def test_mask_textures_alone_are_not_faces(photos, finder, colour):
    """insightface's mask_*.jpg are pictures of masks, not of people: nobody is there to find."""
    assert finder.detect(decode_image((photos / f"mask_{colour}.jpg").read_bytes())) == []


def test_second_look_refuses_what_it_does_not_recognise(photos, finder):
    """A candidate's second look scores a real face high and a random crop of texture low."""
    img = decode_image((photos / "obama.jpg").read_bytes())
    face = finder.detector.detect(img)[0]
    assert finder.second_look(img, face) >= finder.policy.second_look_threshold
    noise = np.random.default_rng(3).integers(0, 256, img.shape, dtype=np.uint8)
    assert finder.second_look(noise, face) < finder.policy.candidate_threshold


def test_large_photo_is_searched_at_working_resolution_and_matches_full_size(photos, finder, face_service):
    """A 4000x3000 camera frame with t1.jpg's six faces at ~100 px: detected at the working side (not full size),
    faces within a fraction of their size of a full-size detection, and alignment warps
    from the full photo. (Faces far above YuNet's training size, ~300 px, disagree more between scales on a
    turned face: 0.47 eye distances measured, YuNet's own scale dependence, the same as at the old 640 cap.)"""
    t1 = decode_image((photos / "t1.jpg").read_bytes())
    big = np.full((3000, 4000, 3), 120, np.uint8)
    big[800:1800, 600:2045] = cv2.resize(t1, (1445, 1000), interpolation=cv2.INTER_CUBIC)
    side = finder.working_side(*big.shape[:2])
    assert finder.detector.max_side < side < 4000
    work, full = finder.detect(big), finder.detector.detect(big, max_side=4000)
    assert len(work) == len(full) == 6
    for f in work:
        g = max(full, key=lambda g: _iou(f.box, g.box))
        assert _iou(f.box, g.box) > 0.7
        # landmarks within a fifth of the box width (measured worst: 15 px on the ~100 px box of the face in
        # profile, whose eye distance collapses to 30 px); a landmark mapped back at a wrong scale would be off by
        # hundreds of pixels
        assert np.abs(f.landmarks - g.landmarks).max() < 0.2 * g.width
    located = face_service.locate(big)
    assert located[0].frame.shape == big.shape


def test_small_faces_in_a_large_photo_are_found(photos, finder):
    """Faces of ~45 px in a 4000x3000 frame: lost at the old 640 px cap, found at the working resolution."""
    t1 = decode_image((photos / "t1.jpg").read_bytes())
    frame = np.full((3000, 4000, 3), 120, np.uint8)
    frame[1300:1688, 1700:2260] = cv2.resize(t1, (560, 388), interpolation=cv2.INTER_AREA)
    assert finder.detector.detect(frame) == []
    assert len(finder.detect(frame)) == 6


def test_liveness_tracker_uses_the_same_finder(face_service, api_config):
    from edge_face.services.liveness import TRACK_SIDE, LivenessService

    svc = LivenessService(face_service, api_config.limits)
    det = svc.analyser.detector
    assert isinstance(det, FaceFinder) and det.policy == face_service.detector.policy
    assert det.detector.max_side == TRACK_SIDE


# ---------------------------------------------------------------- the quick main face of a 1:1 photo


def test_quick_main_face_is_the_full_searchs_main_face(photos, face_service, finder):
    """obama.jpg (910x1137) is over the quick side: the quick path answers, with the same face as the full search
    (the landmarks of its closer look within a few pixels) and the same 1:1 score within 0.01."""
    img = decode_image((photos / "obama.jpg").read_bytes())
    quick = finder.quick_main(img)
    assert quick is not None
    (full,) = face_service.locate(img, full_search=True)
    (located,) = face_service.locate(img)
    assert _iou(quick.box, np.array(full.rect, float)) > 0.8
    assert np.allclose(located.rect, full.rect, atol=0.08 * (full.rect[2] - full.rect[0]))
    other = decode_image((photos / "obama2.jpg").read_bytes())
    a = face_service.verify_pair(img, other).score
    emb = face_service.embed([face_service.locate(img, full_search=True)[0]])
    b = float(face_service.calibration.score(emb[0] @ face_service.embed(face_service.locate(other))[0]))
    assert abs(a - b) < 0.01, (a, b)


def test_quick_path_steps_aside_when_the_main_face_is_not_plain_to_see(photos, finder, masked):
    """A photo no larger than the quick side, and a masked face (not a confident detection): no quick answer, so
    the full search (working resolution, exposure, second look) decides."""
    small = cv2.resize(decode_image((photos / "obama.jpg").read_bytes()), (250, 312))
    assert finder.quick_main(small) is None
    img, _ = masked["black"]
    assert finder.quick_main(img) is None and finder.detect(img)


def test_a_large_photo_without_a_face_never_runs_the_detector_over_the_tile_size(finder, monkeypatch):
    """A 4000x3000 photo with no face is searched at the working side and again at full size, but as tiles:
    YuNet's input (and its ~1.4 GB of activations at full size, per lane) stays at most TILE on a side."""
    from edge_face.pipeline.findfaces import TILE

    sides = []
    real = finder.detector.runner.run

    def spy(x):
        sides.append(max(x.shape[1:3]))
        return real(x)

    monkeypatch.setattr(finder.detector.runner, "run", spy)
    blank = np.full((3000, 4000, 3), 120, np.uint8)
    assert finder.detect(blank) == []
    assert sides and max(sides) <= TILE, max(sides)


def test_a_following_finder_searches_the_normalised_copy_only_when_the_frame_shows_no_face(photos, finder,
                                                                                           monkeypatch):
    """A dim frame with a plainly visible face: the photo finder also searches its exposure-normalised copy (to
    find the faces the darkness hides); a tracker's finder, which wants the one face it follows, does not."""
    img = decode_image((photos / "obama.jpg").read_bytes())
    dim = (img * 0.35).astype(np.uint8)
    assert finder.exposure_problem(dim) == "dark"
    follower = finder.tracking(finder.detector.max_side)
    runs = []
    real = finder.detector.runner.run
    monkeypatch.setattr(finder.detector.runner, "run", lambda x: runs.append(1) or real(x))
    assert finder.detect(dim)
    photo_runs, runs[:] = len(runs), []
    assert follower.detect(dim)
    assert len(runs) == 1 < photo_runs
