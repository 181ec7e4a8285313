"""Who may call: the API keys of the SenseID routes and the tokens of the FRS route, compared in one way.

Secrets are compared as SHA-256 digests with hmac.compare_digest, against every known secret without an early
exit, so neither the time taken nor a length difference tells a caller which secret (or how much of it) matched.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from flask import request

from edge_face.api.errors import INVALID_ARGUMENT, ApiError


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "replace")).digest()


def matches_any(given: Iterable[str], known: Iterable[str]) -> bool:
    """True when any given secret equals any known one, in time independent of which."""
    ok = False
    known = list(known)
    for candidate in given:
        for secret in known:
            ok |= hmac.compare_digest(_digest(candidate), _digest(secret))
    return ok


def check_api_key(keys: tuple[str, ...]) -> None:
    """Optional API key (API.md decision): `Authorization: Bearer <key>` or `X-API-Key`; 401 with 1200 if wrong."""
    if not keys:
        return
    given: list[str] = []
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        given.append(token.strip())
    if request.headers.get("X-API-Key"):
        given.append(request.headers["X-API-Key"].strip())
    if not matches_any(given, keys):
        raise ApiError(INVALID_ARGUMENT, "missing or wrong API key", 401)
