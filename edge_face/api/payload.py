"""Request fields -> decrypted bytes -> decoded images, each failure mapped to its SenseID code.

Everything about a request's *shape* (missing or repeated fields, booleans) is checked before any decryption or
decoding, so a malformed request costs nothing. A field the endpoint does not know is ignored (API.md: clients
share one form builder across endpoints). Arrays are only passed through to the service.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable
from urllib.parse import parse_qsl

from flask import Request

from edge_face.api.errors import (
    INVALID_ARGUMENT,
    INVALID_CONTENT_LENGTH,
    INVALID_IMAGE_SIZE,
    INVALID_IMAGE_TYPE,
    ApiError,
)
from edge_face.config import Limits
from edge_face.crypto import DecryptError, VendorCipher
from edge_face.imaging.decode import ImageError, Photo, decode_photo
from edge_face.observability import stage

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_TRUE, _FALSE = ("true", "1"), ("false", "0")

Value = str | bytes  # a text field, or the content of a multipart file part


@dataclass(frozen=True)
class Fields:
    """The validated fields of one request: every required one present once, only the endpoint's own fields."""

    values: dict[str, Value]

    def get(self, name: str) -> Value | None:
        return self.values.get(name)

    def flag(self, name: str) -> bool:
        """A vendor boolean: true/false/1/0 in any case; absent means false; anything else is 1200."""
        raw = self.values.get(name)
        if raw is None:
            return False
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        text = text.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ApiError(INVALID_ARGUMENT, f"{name} must be true, false, 1 or 0")


def _collect(request: Request, allowed: set[str]) -> dict[str, list[Value]]:
    """Every body field by name; multipart file parts are read as bytes (clients send photos both ways), except
    those of fields outside `allowed`, which are listed empty and never read."""
    mimetype = request.mimetype
    found: dict[str, list[Value]] = {}
    if mimetype in FORM_TYPES:
        for name, value in request.form.items(multi=True):
            found.setdefault(name, []).append(value)
        for name, storage in request.files.items(multi=True):
            found.setdefault(name, []).append(storage.read() if name in allowed else b"")
    elif not mimetype:
        # Some hand-written clients post a urlencoded body without a Content-Type: read it as one.
        body = request.get_data(cache=False).decode("utf-8", "replace")
        for name, value in parse_qsl(body, keep_blank_values=True):
            found.setdefault(name, []).append(value)
    else:
        raise ApiError(INVALID_ARGUMENT, f"content type {mimetype} is not supported, use {' or '.join(FORM_TYPES)}")
    return found


def read_fields(request: Request, required: tuple[str, ...], optional: tuple[str, ...] = (), *,
                strict: bool = False) -> Fields:
    """Check the request's field names against the endpoint's contract (1200 naming the first offender); fields
    the endpoint does not know are dropped unread, so they can neither fail the request nor reach a route.
    `strict` refuses them instead, for edge_face's own endpoints that take no field (no shared form builder)."""
    allowed = set(required) | set(optional)
    collected = _collect(request, allowed)
    if strict and (unknown := next((name for name in collected if name not in allowed), None)) is not None:
        raise ApiError(INVALID_ARGUMENT, f"unknown field {unknown[:64]}")
    found = {name: values for name, values in collected.items() if name in allowed}
    for name in required:
        if name not in found:
            raise ApiError(INVALID_ARGUMENT, f"missing field {name}")
    for name, values in found.items():
        if len(values) > 1:
            raise ApiError(INVALID_ARGUMENT, f"field {name} is given more than once")
    return Fields({name: values[0] for name, values in found.items()})


def decrypt_field(fields: Fields, name: str, cipher: VendorCipher) -> bytes:
    """The plaintext of an encrypted field; not Base64 or failed GCM authentication is 1200 naming the field."""
    raw = fields.get(name)
    if raw is None:
        raise ApiError(INVALID_ARGUMENT, f"missing field {name}")
    try:
        return cipher.decrypt(raw)
    except DecryptError:
        raise ApiError(INVALID_ARGUMENT, f"{name} is not valid Base64 or cannot be decrypted with this key") from None


def image_error(exc: ImageError, name: str, corrupt_code: int) -> ApiError:
    """Map a decoding failure to its code; `corrupt_code` is 2005 for 1.1 and 2006 for 1.2 (API.md)."""
    code = {
        "length": INVALID_CONTENT_LENGTH,
        "size": INVALID_IMAGE_SIZE,
        "type": INVALID_IMAGE_TYPE,
        "corrupt": corrupt_code,
    }.get(exc.kind, INVALID_IMAGE_TYPE)
    return ApiError(code, f"{name}: {exc}")


def decode_field(data: bytes, name: str, limits: Limits, corrupt_code: int) -> Photo:
    """The decoded photo of a decrypted field (its pixels are an opaque array for this layer; a large JPEG comes
    reduced, with the scale that takes its rectangles back to the photo as sent)."""
    try:
        with stage("decode"):
            return decode_photo(data, limits)
    except ImageError as exc:
        raise image_error(exc, name, corrupt_code) from None


def image_loaders(fields: Fields, names: tuple[str, ...], cipher: VendorCipher, limits: Limits,
                  corrupt_code: int = INVALID_IMAGE_TYPE) -> list[Callable[[], Photo]]:
    """Decrypt every photo now (cheap, catches a wrong key); one decoder per photo, to call where the photo is
    used: on the inference lanes, a request's photos decode on two cores at once (see senseid.py)."""
    plain = [decrypt_field(fields, name, cipher) for name in names]
    return [partial(decode_field, data, name, limits, corrupt_code) for data, name in zip(plain, names)]


def load_images(fields: Fields, names: tuple[str, ...], cipher: VendorCipher, limits: Limits,
                corrupt_code: int = INVALID_IMAGE_TYPE) -> list[Photo]:
    """Decrypt every photo first (cheap, catches a wrong key), then decode them in order."""
    return [load() for load in image_loaders(fields, names, cipher, limits, corrupt_code)]

