"""Photo bytes -> upright BGR uint8 array, or an ImageError that says which documented rule was broken.

Order matters for safety: byte length, then the format's magic, then the dimensions read from the header alone
(Pillow opens lazily), and only then the full decode, so a decompression bomb never gets decoded.
"""
from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from edge_face.config import Limits

_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


class ImageError(ValueError):
    """kind: "length" (2004), "size" (2003), "type" (2005) or "corrupt" (2006)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def sniff_format(data: bytes) -> str | None:
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def _header_size(data: bytes, fmt: str) -> tuple[int, int]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as im:
                if im.format != fmt and not (fmt == "TIFF" and im.format == "MPO"):
                    raise ImageError("corrupt", f"{fmt} header is not readable")
                return im.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as exc:
            if isinstance(exc, ImageError):
                raise
            if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
                raise ImageError("size", "too many pixels") from None
            raise ImageError("corrupt", f"{fmt} header is not readable") from None


def _check_complete(data: bytes, fmt: str) -> None:
    """Reject truncated files that decoders would otherwise fill with grey."""
    if fmt == "JPEG":
        # 0xFFD9 cannot occur inside entropy-coded data (0xFF is always stuffed), so a complete JPEG has an EOI
        # after its last start-of-scan.
        if data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
            raise ImageError("corrupt", "JPEG data is truncated")
    elif fmt == "PNG":
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.verify()  # walks every chunk and checks its CRC
        except Exception:  # noqa: BLE001 - any failure of verify() means a damaged file
            raise ImageError("corrupt", "PNG data is truncated or corrupt") from None


def _decode_with_pillow(data: bytes) -> np.ndarray | None:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.seek(0)
            rgb = np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001
        return None
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def decode_image(data: bytes, limits: Limits = Limits()) -> np.ndarray:
    """Decode a photo into an upright BGR uint8 image (EXIF orientation applied)."""
    if len(data) > limits.max_image_bytes:
        raise ImageError("length", f"photo is {len(data)} bytes, limit {limits.max_image_bytes}")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError("type", "not a JPG, PNG, BMP, GIF or TIFF file")
    width, height = _header_size(data, fmt)
    if not (limits.min_image_side <= width <= limits.max_image_side
            and limits.min_image_side <= height <= limits.max_image_side):
        raise ImageError("size", f"{width}x{height} is outside {limits.min_image_side}-{limits.max_image_side} px")
    if width * height > limits.max_image_pixels:
        raise ImageError("size", f"{width}x{height} exceeds {limits.max_image_pixels} pixels")
    _check_complete(data, fmt)
    buf = np.frombuffer(data, np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)  # applies the EXIF orientation
    if img is None and fmt in ("GIF", "TIFF", "BMP"):
        img = _decode_with_pillow(data)
    if img is None or img.ndim != 3 or img.shape[2] != 3:
        raise ImageError("corrupt", f"{fmt} data cannot be decoded")
    return img
