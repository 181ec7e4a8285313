"""A small client for edge_face's SenseID API (and for the vendor's private cloud, which speaks the same).

It encrypts photos like the vendor's Java sample (AES-256-GCM, Base64, form-urlencoded) and uses only the standard
library for HTTP, so installing edge_face's client side adds no dependency.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Mapping

from edge_face.config import Config
from edge_face.crypto import VendorCipher

PhotoSource = bytes | str | os.PathLike[str]

VERIFY_PATH = "/identity/image_verification/stateless"
ALL_PAIRS_PATH = "/identity/multiface_image_omni_verification/stateless"


class EdgeFaceClientError(RuntimeError):
    """The server could not be reached or did not answer with JSON (e.g. a proxy's error page)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _read(photo: PhotoSource) -> bytes:
    """bytes are the photo itself; str or a path-like names a file."""
    if isinstance(photo, (bytes, bytearray, memoryview)):
        return bytes(photo)
    return Path(photo).read_bytes()


class EdgeFaceClient:
    """verify() and verify_all_pairs() return the server's JSON as a dict, errors included: check its "code"
    (1000 = success), as with the vendor's API. Only transport failures raise EdgeFaceClientError."""

    def __init__(self, base_url: str, key: str = Config.aes_key, iv: str = Config.aes_iv,
                 api_key: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.cipher = VendorCipher(key, iv)
        self.api_key = api_key
        self.timeout = timeout

    def encrypt(self, photo: PhotoSource) -> str:
        return self.cipher.encrypt(_read(photo))

    def verify(self, first: PhotoSource, second: PhotoSource, *, auto_rotate: bool = False) -> dict[str, Any]:
        """§1.1: one calibrated `verification_score` for the main face of each photo."""
        return self.post(VERIFY_PATH, {
            "first_encrypted_image": self.encrypt(first),
            "second_encrypted_image": self.encrypt(second),
            "auto_rotate": auto_rotate,
        })

    def verify_all_pairs(self, first: PhotoSource, second: PhotoSource, *,
                         auto_rotate: bool = False) -> dict[str, Any]:
        """§1.2: `scores` (faces of first × faces of second) and `face_rects`."""
        return self.post(ALL_PAIRS_PATH, {
            "first_encrypted_image": self.encrypt(first),
            "second_encrypted_image": self.encrypt(second),
            "auto_rotate": auto_rotate,
        })

    def post(self, path: str, fields: Mapping[str, str | bool | int]) -> dict[str, Any]:
        """POST already-prepared fields form-urlencoded (booleans become "true"/"false"); return the JSON body."""
        form = {name: (("true" if value else "false") if isinstance(value, bool) else str(value))
                for name, value in fields.items()}
        data = urllib.parse.urlencode(form).encode("ascii")
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:  # 4xx/5xx still carry the vendor's JSON
            status, body = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise EdgeFaceClientError(f"{self.base_url}{path}: {exc}") from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise EdgeFaceClientError(f"{path}: HTTP {status} without a JSON body", status) from None
        if not isinstance(answer, dict):
            raise EdgeFaceClientError(f"{path}: HTTP {status} with unexpected JSON", status)
        return answer
