"""JPEG encoding in memory, for the frames the API hands back (the selected video frame, the camera preview)."""
from __future__ import annotations

import base64

import cv2
import numpy as np


def encode_jpeg(bgr: np.ndarray, quality: int) -> bytes:
    """The BGR uint8 image as JPEG bytes; never touches the disk."""
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def jpeg_base64(bgr: np.ndarray, quality: int) -> str:
    """The image as Base64 JPEG text, the form the vendor's JSON carries pictures in."""
    return base64.b64encode(encode_jpeg(bgr, quality)).decode("ascii")
