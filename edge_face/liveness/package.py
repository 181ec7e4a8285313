"""The sealed liveness package of a camera session (API.md "liveness_file (1.3)"): seal after a live result, open
for 1.3.

Why sealed and not signed: the package carries a face photo, so it is encrypted as well as authenticated, and only
the device that made it can open it (AES-256-GCM under the device key, a random 96-bit nonce per package). The
clear header (magic, version, device id) is the associated data, so it cannot be changed without breaking the tag,
and a package from another device or of another version is named as such before any decryption.
The plaintext is the protobuf message of package.proto; its descriptor is built here with the protobuf runtime
(there is no generated module to keep in step).

A package proves one liveness check to one caller: it names its audience ("api": SenseID 1.3, "kiosk": the kiosk
page's own verification) and, when the caller gave one, the SHA-256 of the caller's nonce; open() refuses it for
another audience or without the same nonce. Single use is the consumed-id store's job (liveness/consumed.py).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

PACKAGE_VERSION = 2  # 2: audience and nonce_hash; version 1 packages are refused
MAGIC = b"EFLP"
NONCE_BYTES = 12
TAG_BYTES = 16
ALIGNED_SIDE = 112
_PROTO_PACKAGE = "edge_face.liveness"
AUDIENCES = ("api", "kiosk")
MAX_NONCE_CHARS = 256

# (name, number, type, label, message type) of each field, exactly as in package.proto.
_F = descriptor_pb2.FieldDescriptorProto
OUTCOME_FIELDS = (
    ("passed", 1, _F.TYPE_BOOL, _F.LABEL_OPTIONAL, ""),
    ("score", 2, _F.TYPE_FLOAT, _F.LABEL_OPTIONAL, ""),
    ("status", 3, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
    ("face_seconds", 4, _F.TYPE_FLOAT, _F.LABEL_OPTIONAL, ""),
    ("frames", 5, _F.TYPE_UINT32, _F.LABEL_OPTIONAL, ""),
)
PACKAGE_FIELDS = (
    ("version", 1, _F.TYPE_UINT32, _F.LABEL_OPTIONAL, ""),
    ("device_id", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
    ("session_id", 3, _F.TYPE_BYTES, _F.LABEL_OPTIONAL, ""),
    ("captured_unix_ms", 4, _F.TYPE_INT64, _F.LABEL_OPTIONAL, ""),
    ("expires_unix_ms", 5, _F.TYPE_INT64, _F.LABEL_OPTIONAL, ""),
    ("result", 6, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, "LivenessOutcome"),
    ("frame_jpeg", 7, _F.TYPE_BYTES, _F.LABEL_OPTIONAL, ""),
    ("face_rect", 8, _F.TYPE_INT32, _F.LABEL_REPEATED, ""),
    ("aligned_png", 9, _F.TYPE_BYTES, _F.LABEL_OPTIONAL, ""),
    ("model_variant", 10, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
    ("audience", 11, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
    ("nonce_hash", 12, _F.TYPE_BYTES, _F.LABEL_OPTIONAL, ""),
)


def _message_classes():
    fdp = descriptor_pb2.FileDescriptorProto(name="edge_face/liveness/package.proto", package=_PROTO_PACKAGE,
                                             syntax="proto3")
    for message, spec in (("LivenessOutcome", OUTCOME_FIELDS), ("LivenessPackage", PACKAGE_FIELDS)):
        msg = fdp.message_type.add(name=message)
        for name, number, type_, label, type_name in spec:
            field = msg.field.add(name=name, number=number, type=type_, label=label)
            if type_name:
                field.type_name = f".{_PROTO_PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()  # our own pool: nothing else in the process can clash with it
    pool.Add(fdp)
    return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PROTO_PACKAGE}.{m}"))
                 for m in ("LivenessOutcome", "LivenessPackage"))


LivenessOutcome, LivenessPackage = _message_classes()


class PackageError(ValueError):
    """The bytes are no package this device accepts (SenseID 2007). kind: "malformed" (truncated, not a package,
    bad contents), "version", "foreign" (another device), "forged" (altered, or sealed under another key),
    "expired", "future" (captured after now), "not_live", "audience" (issued to the kiosk, shown to the API or the
    other way round), "nonce" (the caller's nonce is missing or another) or "replayed" (used before)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class OpenedPackage:
    device_id: str
    session_id: bytes
    captured_unix_ms: int
    expires_unix_ms: int
    passed: bool
    score: float
    status: str
    frame_jpeg: bytes
    face_rect: tuple[int, ...]
    aligned: np.ndarray  # 112x112 BGR crop, what the embedder takes
    model_variant: str
    audience: str


def nonce_hash(nonce: str | None) -> bytes:
    """What a package keeps of a caller's nonce (b"" without one)."""
    if not nonce:
        return b""
    return hashlib.sha256(b"edge_face package nonce\0" + nonce.encode("utf-8")).digest()


_process_key: bytes | None = None
_process_key_lock = threading.Lock()


def process_key() -> bytes:
    """A random key for this process, used when no device_key is configured: its packages die with the process."""
    global _process_key
    with _process_key_lock:
        if _process_key is None:
            _process_key = os.urandom(32)
        return _process_key


def default_device_id() -> str:
    """A stable name for this device that does not reveal /etc/machine-id itself; the host name without one."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, "rb") as fh:
                machine = fh.read().strip()
        except OSError:
            continue
        if machine:
            return hashlib.sha256(b"edge_face device " + machine).hexdigest()[:16]
    return socket.gethostname()[:64] or "edge-face"


def header(version: int, device_id: str) -> bytes:
    """The clear part of a sealed package, and its associated data."""
    dev = device_id.encode("utf-8")
    if not 0 < len(dev) < 256:
        raise ValueError("device id must be 1..255 bytes of UTF-8")
    return MAGIC + struct.pack("BB", version, len(dev)) + dev


def _decode_png(data: bytes) -> np.ndarray | None:
    """The aligned crop; None when it is missing or not an image (cv2.imdecode raises on empty input)."""
    if not data:
        return None
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None


class PackageSealer:
    """Seals and opens the packages of one device (its key and id); `clock` returns unix seconds."""

    def __init__(self, key: bytes, device_id: str, ttl: float, clock_skew: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        if len(key) != 32:
            raise ValueError("the device key must be 32 bytes")
        header(PACKAGE_VERSION, device_id)  # validates the id
        self._aead = AESGCM(key)
        self.device_id = device_id
        self.ttl_ms = int(ttl * 1000)
        self.skew_ms = int(clock_skew * 1000)
        self.clock = clock

    def seal(self, *, passed: bool, score: float, status: str, face_seconds: float, frames: int,
             frame: np.ndarray, face_rect: tuple[int, int, int, int], aligned: np.ndarray, captured_unix: float,
             model_variant: str = "", audience: str = "api", nonce: str | None = None) -> bytes:
        ok_frame, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        ok_face, png = cv2.imencode(".png", aligned)
        if not (ok_frame and ok_face):
            raise ValueError("could not encode the package's images")
        captured_ms = int(captured_unix * 1000)
        msg = LivenessPackage(
            version=PACKAGE_VERSION, device_id=self.device_id, session_id=os.urandom(16),
            captured_unix_ms=captured_ms, expires_unix_ms=captured_ms + self.ttl_ms,
            result=LivenessOutcome(passed=passed, score=score, status=status, face_seconds=face_seconds,
                                   frames=frames),
            frame_jpeg=jpeg.tobytes(), face_rect=[int(v) for v in face_rect], aligned_png=png.tobytes(),
            model_variant=model_variant, audience=audience, nonce_hash=nonce_hash(nonce))
        return self.seal_message(msg.SerializeToString(), PACKAGE_VERSION)

    def seal_message(self, plaintext: bytes, version: int) -> bytes:
        """header | nonce | AES-256-GCM(plaintext) with the header as associated data."""
        head = header(version, self.device_id)
        nonce = os.urandom(NONCE_BYTES)
        return head + nonce + self._aead.encrypt(nonce, plaintext, head)

    def open(self, data: bytes, *, audience: str = "api", nonce: str | None = None) -> OpenedPackage:
        """The package's contents, or PackageError saying why this device refuses it for `audience` and `nonce`."""
        if len(data) < len(MAGIC) + 2 or data[: len(MAGIC)] != MAGIC:
            raise PackageError("malformed", "not an edge_face liveness package")
        version, dev_len = data[len(MAGIC)], data[len(MAGIC) + 1]
        if version != PACKAGE_VERSION:
            raise PackageError("version", f"package version {version} is not supported (this device reads "
                                          f"version {PACKAGE_VERSION})")
        head_len = len(MAGIC) + 2 + dev_len
        if len(data) < head_len + NONCE_BYTES + TAG_BYTES:
            raise PackageError("malformed", "the package is truncated")
        head = data[:head_len]
        if head[len(MAGIC) + 2:] != self.device_id.encode("utf-8"):
            raise PackageError("foreign", "the package was sealed by another device")
        iv, sealed = data[head_len: head_len + NONCE_BYTES], data[head_len + NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(iv, sealed, head)
        except InvalidTag:
            raise PackageError("forged", "the package is altered, or sealed under another key") from None
        msg = LivenessPackage()
        try:
            msg.ParseFromString(plain)
        except DecodeError:
            raise PackageError("malformed", "the package's contents cannot be read") from None
        if msg.version != version or msg.device_id != self.device_id:
            raise PackageError("malformed", "the package's contents do not match its header")
        self._check_times(msg.captured_unix_ms, msg.expires_unix_ms)
        if not msg.result.passed:
            raise PackageError("not_live", "the package records a failed liveness check")
        if msg.audience != audience:
            raise PackageError("audience", f"the package was issued for the {msg.audience or 'unknown'} flow, "
                                           f"not the {audience} flow")
        if not hmac.compare_digest(bytes(msg.nonce_hash), nonce_hash(nonce)):  # either side may lack a nonce
            raise PackageError("nonce", "the package was issued to a caller with another nonce")
        aligned = _decode_png(msg.aligned_png)
        if aligned is None or aligned.shape != (ALIGNED_SIDE, ALIGNED_SIDE, 3):
            raise PackageError("malformed", "the package holds no aligned face")
        return OpenedPackage(device_id=msg.device_id, session_id=bytes(msg.session_id),
                             captured_unix_ms=msg.captured_unix_ms, expires_unix_ms=msg.expires_unix_ms,
                             passed=msg.result.passed, score=msg.result.score, status=msg.result.status,
                             frame_jpeg=bytes(msg.frame_jpeg), face_rect=tuple(msg.face_rect), aligned=aligned,
                             model_variant=msg.model_variant, audience=msg.audience)

    def refused_after_ms(self, package: OpenedPackage) -> int:
        """Unix ms after which open() refuses `package` as expired: how long its id must be remembered as used."""
        return min(package.expires_unix_ms, package.captured_unix_ms + self.ttl_ms) + self.skew_ms

    def _check_times(self, captured_ms: int, expires_ms: int) -> None:
        """Expired by its own expiry or by this device's ttl, whichever is sooner; never from the future."""
        now_ms = int(self.clock() * 1000)
        if captured_ms > now_ms + self.skew_ms:
            raise PackageError("future", "the package's capture time is in the future")
        deadline = min(expires_ms, captured_ms + self.ttl_ms)
        if now_ms > deadline + self.skew_ms:
            raise PackageError("expired", f"the package expired {(now_ms - deadline) / 1000:.0f} s ago")
