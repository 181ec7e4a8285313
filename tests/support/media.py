"""Photos, videos and liveness packages that the conformance table's requests carry, made from the registry
fixtures (tests/fixtures.py) and cached per session: every one is a real file a client could send."""
from __future__ import annotations

import io
import os
import time
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from edge_face.liveness.package import PackageSealer
from tests.test_liveness import print_attack, write_video

# The face box of obama.jpg is about (370, 91)-(610, 420) with its eyes at y = 214: a block from just under the
# eyes to the chin covers the nose and the mouth (4004 with the shipped occlusion model; obama_partial_face*.jpg
# and mask_*.jpg do not trigger it: they are either not occluded enough or not detected at all).
OCCLUDER = ((360, 265), (620, 430))

DEVICE_KEY = bytes(range(32))  # the conformance server's device key, to seal 1.3 packages as its camera would
DEVICE_ID = "conformance-device"


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


class Media:
    """Everything a table row sends, built lazily once per session from the fixture folder `photos`."""

    def __init__(self, photos: Path, tmp: Path, face_service) -> None:
        self.photos = photos
        self.tmp = tmp
        self.face_service = face_service

    def read(self, name: str) -> bytes:
        return (self.photos / name).read_bytes()

    @cached_property
    def obama(self) -> bytes:
        return self.read("obama.jpg")

    @cached_property
    def obama2(self) -> bytes:
        return self.read("obama2.jpg")

    @cached_property
    def grey(self) -> bytes:
        """A photo without a face (4000)."""
        return encode(Image.new("RGB", (320, 240), (128, 128, 128)))

    @cached_property
    def tiny(self) -> bytes:
        """6 x 6 px: under the 8-px minimum side (2003)."""
        return encode(Image.new("RGB", (6, 6)))

    @cached_property
    def oversized(self) -> bytes:
        """A JPEG signature followed by 5 MB: over the photo limit (2004), refused before decoding."""
        return b"\xff\xd8\xff\xe0" + os.urandom(5 * 1024 * 1024)

    @cached_property
    def text(self) -> bytes:
        """Not an image at all (2005)."""
        return b"just some text\n" * 50

    @cached_property
    def truncated(self) -> bytes:
        """A JPEG cut short: 2005 on 1.1/1.3/1.4, 2006 on 1.2/2.1."""
        return self.obama[:60_000]

    @cached_property
    def occluded(self) -> bytes:
        """obama.jpg with its nose and mouth covered by a solid block (4004 when check_quality=true)."""
        img = cv2.imdecode(np.frombuffer(self.obama, np.uint8), cv2.IMREAD_COLOR)
        cv2.rectangle(img, *OCCLUDER, (40, 40, 40), -1)
        return cv2.imencode(".png", img)[1].tobytes()

    def _video(self, name: str, frames) -> bytes:
        return write_video(self.tmp / name, frames)

    @cached_property
    def photo_bgr(self) -> np.ndarray:
        return cv2.imread(str(self.photos / "obama2.jpg"))

    @cached_property
    def video(self) -> bytes:
        """3 s of a printed photo moved about: a decodable video with a face (a 1000 answer, passed or not)."""
        return self._video("print.mp4", print_attack(self.photo_bgr, 3.0))

    @cached_property
    def short_video(self) -> bytes:
        """1.5 s with a face: 2008 on 3.1, `short_time` on 1.4."""
        return self._video("short.mp4", print_attack(self.photo_bgr, 1.5))

    @cached_property
    def short_faceless_video(self) -> bytes:
        """1.5 s of an empty wall: still `short_time` on 1.4 (the video is decodable), 2008 on 3.1."""
        return self._video("short_wall.mp4", print_attack(self.photo_bgr, 1.5, face_until=0.0))

    @cached_property
    def faceless_video(self) -> bytes:
        """3 s of an empty wall: no trackable face (4007)."""
        return self._video("wall.mp4", print_attack(self.photo_bgr, 3.0, face_until=0.0))

    def package(self) -> bytes:
        """A fresh sealed liveness package of obama.jpg's face, as this device's camera session seals it (each
        package is single use, so every request gets its own)."""
        img = cv2.imdecode(np.frombuffer(self.obama, np.uint8), cv2.IMREAD_COLOR)
        face = self.face_service.main_face(img, "image")
        return PackageSealer(DEVICE_KEY, DEVICE_ID, ttl=300).seal(
            passed=True, score=0.95, status="ok", face_seconds=2.5, frames=20, frame=img,
            face_rect=tuple(int(v) for v in face.rect), aligned=face.crop, captured_unix=time.time())
