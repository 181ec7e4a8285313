"""A small client for every endpoint of edge_face: SenseID (also good for the vendor's private cloud, which speaks
the same), Huawei FRS face-compare, and the ops endpoints.

It encrypts photos like the vendor's Java sample (AES-256-GCM, Base64, form-urlencoded) and uses only the standard
library for HTTP, so installing edge_face's client side adds no dependency.
"""
from __future__ import annotations

import base64
import json
import os
import uuid
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Mapping

from edge_face import routes
from edge_face.config import Config
from edge_face.crypto import VendorCipher

PhotoSource = bytes | str | os.PathLike[str]

VERIFY_PATH = routes.VERIFY
ALL_PAIRS_PATH = routes.ALL_PAIRS
FRS_COMPARE_PATH = routes.FRS_COMPARE
QUALITY_PATH = routes.QUALITY
LIVENESS_PATH = routes.LIVENESS
VIDEO_VERIFY_PATH = routes.VIDEO_VERIFY
LIVENESS_FILE_PATH = routes.PACKAGE_VERIFY
CAMERA_SESSION_PATH = routes.CAMERA_SESSION
CAMERA_STATUS_PATH = routes.CAMERA_STATUS
CAMERA_FRAME_PATH = routes.CAMERA_FRAME


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


def _multipart(files: Mapping[str, bytes]) -> tuple[bytes, str]:
    """multipart/form-data with one file part per name (the stdlib has no encoder for it)."""
    boundary = uuid.uuid4().hex
    chunks = []
    for name, data in files.items():
        chunks += [f"--{boundary}\r\n".encode(),
                   f'Content-Disposition: form-data; name="{name}"; filename="{name}"\r\n'.encode(),
                   b"Content-Type: application/octet-stream\r\n\r\n", data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


class EdgeFaceClient:
    """Every method returns the server's JSON as a dict, errors included: check its "code" (1000 = success) for
    SenseID, `error_code` for FRS, as with the vendors' APIs. Only transport failures raise EdgeFaceClientError."""

    def __init__(self, base_url: str, key: str = Config.aes_key, iv: str = Config.aes_iv,
                 api_key: str | None = None, timeout: float = 30.0, frs_token: str = "edge_face",
                 project_id: str = "edge_face") -> None:
        self.base_url = base_url.rstrip("/")
        self.cipher = VendorCipher(key, iv)
        self.api_key = api_key
        self.timeout = timeout
        self.frs_token = frs_token  # X-Auth-Token: any value passes unless the server configures frs_tokens
        self.project_id = project_id

    def encrypt(self, photo: PhotoSource) -> str:
        return self.cipher.encrypt(_read(photo))

    def verify(self, first: PhotoSource, second: PhotoSource, *, auto_rotate: bool = False,
               check_quality: bool = False) -> dict[str, Any]:
        """§1.1: one calibrated `verification_score` for the main face of each photo."""
        fields: dict[str, str | bool] = {
            "first_encrypted_image": self.encrypt(first),
            "second_encrypted_image": self.encrypt(second),
            "auto_rotate": auto_rotate,
        }
        if check_quality:
            fields["check_quality"] = True
        return self.post(VERIFY_PATH, fields)

    def verify_all_pairs(self, first: PhotoSource, second: PhotoSource, *,
                         auto_rotate: bool = False) -> dict[str, Any]:
        """§1.2: `scores` (faces of first × faces of second) and `face_rects`."""
        return self.post(ALL_PAIRS_PATH, {
            "first_encrypted_image": self.encrypt(first),
            "second_encrypted_image": self.encrypt(second),
            "auto_rotate": auto_rotate,
        })

    def quality(self, photo: PhotoSource) -> dict[str, Any]:
        """§2.1: `faces`, each with rect, pose, occlusion, distance2center, size, brightness, sharpness, mouth_open."""
        return self.post(QUALITY_PATH, {"encrypted_image": self.encrypt(photo)})

    def liveness(self, video: PhotoSource, *, return_image: bool = False, return_face_image: bool = False,
                 return_status: bool = False) -> dict[str, Any]:
        """§3.1: `passed` and `liveness_score` of a video (a spoof is passed=false, not an error)."""
        return self.post(LIVENESS_PATH, {"encrypted_video": self.encrypt(video), "return_image": return_image,
                                         "return_face_image": return_face_image, "return_status": return_status})

    def verify_video(self, video: PhotoSource, photo: PhotoSource, *, auto_rotate: bool = False,
                     check_quality: bool = False, return_image: bool = False, return_face_image: bool = False,
                     return_status: bool = False) -> dict[str, Any]:
        """§1.4: liveness of the video, then (when passed) its face against the photo: `verification_score`."""
        return self.post(VIDEO_VERIFY_PATH, {
            "encrypted_video": self.encrypt(video), "encrypted_image": self.encrypt(photo),
            "auto_rotate": auto_rotate, "check_quality": check_quality, "return_image": return_image,
            "return_face_image": return_face_image, "return_status": return_status})

    def camera_session(self) -> dict[str, Any]:
        """Silent liveness of the person in front of the device's camera: `passed`, `liveness_score`,
        `liveness_status`, and when passed `package` (Base64 of the sealed liveness package for 1.3)."""
        return self.post(CAMERA_SESSION_PATH, {})

    def camera_status(self) -> dict[str, Any]:
        return self._json(CAMERA_STATUS_PATH, self._send("GET", CAMERA_STATUS_PATH))

    def camera_frame(self) -> bytes:
        """The newest camera frame, JPEG (a preview); raises EdgeFaceClientError when there is none."""
        status, body = self._send("GET", CAMERA_FRAME_PATH, headers={"Accept": "image/jpeg"})
        if status != 200:
            raise EdgeFaceClientError(f"{CAMERA_FRAME_PATH}: HTTP {status}: {body[:200]!r}", status)
        return body

    def verify_liveness_file(self, package: bytes | str, photo: PhotoSource, *, auto_rotate: bool = False,
                             check_quality: bool = False) -> dict[str, Any]:
        """§1.3: a camera session's package (its bytes, or the Base64 `package` as returned) against a photo:
        `verification_score`. Sent as multipart, the package as a file part."""
        raw = base64.b64decode(package) if isinstance(package, str) else bytes(package)
        data, content_type = _multipart({
            "liveness_file": raw, "encrypted_image": self.encrypt(photo).encode("ascii"),
            "auto_rotate": b"true" if auto_rotate else b"false", "check_quality": b"true" if check_quality else b"false"})
        return self._json(LIVENESS_FILE_PATH, self._send("POST", LIVENESS_FILE_PATH, data,
                                                          {"Content-Type": content_type}))

    def frs_compare(self, image1: PhotoSource, image2: PhotoSource, *, multipart: bool = False) -> dict[str, Any]:
        """Huawei FRS face-compare: `similarity` (> 0.93: the same person) and each image's `bounding_box`.

        The photos travel as JSON Base64 (Huawei's method 1) or, with `multipart`, as files (method 2)."""
        path = FRS_COMPARE_PATH.format(project_id=urllib.parse.quote(self.project_id, safe=""))
        headers = {"X-Auth-Token": self.frs_token}
        if multipart:
            data, content_type = _multipart({"image1_file": _read(image1), "image2_file": _read(image2)})
        else:
            content_type = "application/json"
            data = json.dumps({"image1_base64": base64.b64encode(_read(image1)).decode("ascii"),
                               "image2_base64": base64.b64encode(_read(image2)).decode("ascii")}).encode("ascii")
        return self._json(path, self._send("POST", path, data, {**headers, "Content-Type": content_type}))

    def healthz(self) -> dict[str, Any]:
        return self._json(routes.HEALTHZ, self._send("GET", routes.HEALTHZ))

    def readyz(self) -> dict[str, Any]:
        """`status` ("ready", "loading", "failed"), and once ready the models, backends and thresholds."""
        return self._json(routes.READYZ, self._send("GET", routes.READYZ))

    def metrics(self) -> str:
        """The Prometheus text of /metrics."""
        status, body = self._send("GET", routes.METRICS)
        if status != 200:
            raise EdgeFaceClientError(f"/metrics: HTTP {status}", status)
        return body.decode("utf-8")

    def openapi(self) -> dict[str, Any]:
        """The service's OpenAPI document."""
        return self._json(routes.OPENAPI, self._send("GET", routes.OPENAPI))

    def post(self, path: str, fields: Mapping[str, str | bool | int]) -> dict[str, Any]:
        """POST already-prepared fields form-urlencoded (booleans become "true"/"false"); return the JSON body."""
        form = {name: (("true" if value else "false") if isinstance(value, bool) else str(value))
                for name, value in fields.items()}
        data = urllib.parse.urlencode(form).encode("ascii")
        return self._json(path, self._send("POST", path, data,
                                           {"Content-Type": "application/x-www-form-urlencoded"}))

    def _send(self, method: str, path: str, data: bytes | None = None,
              headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if self.api_key:
            all_headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.base_url + path, data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:  # 4xx/5xx still carry the vendor's JSON
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise EdgeFaceClientError(f"{self.base_url}{path}: {exc}") from None

    @staticmethod
    def _json(path: str, answer: tuple[int, bytes]) -> dict[str, Any]:
        status, body = answer
        try:
            parsed = json.loads(body)
        except ValueError:
            raise EdgeFaceClientError(f"{path}: HTTP {status} without a JSON body", status) from None
        if not isinstance(parsed, dict):
            raise EdgeFaceClientError(f"{path}: HTTP {status} with unexpected JSON", status)
        return parsed
