"""Huawei Cloud AK/SK request signatures (`SDK-HMAC-SHA256`), verified as Huawei's API gateway verifies them.

Framework-free: `verify(method, path, query, headers, body, credentials, now, skew)` returns the access key of a
correctly signed request or raises `SignatureError` (`MissingHeader` when a required header is absent).

The algorithm, as Huawei's SDKs sign (huaweicloudsdkcore 3.1.219, signer/signer.py, class Signer):

    Authorization: SDK-HMAC-SHA256 Access=<ak>, SignedHeaders=<h1;h2;...>, Signature=<hex>
    X-Sdk-Date:    20250101T120000Z                      (UTC, basic ISO 8601)

    canonical request = METHOD "\\n" canonical URI "\\n" canonical query "\\n" canonical headers "\\n"
                        signed headers "\\n" payload hash
      canonical URI     the URL-decoded path, each "/"-separated segment percent-encoded (RFC 3986 unreserved
                        characters kept: A-Z a-z 0-9 - _ . ~), always ending with "/" (the SDK's trailing-slash
                        rule: "/v2/p/face-compare" is signed as "/v2/p/face-compare/").
      canonical query   the decoded (key, value) pairs sorted, each encoded the same way, "k=v" joined by "&"
                        ("" without a query).
      canonical headers "name:value\\n" for each signed header, in SignedHeaders order: lower-case name, value
                        stripped (the SDK signs every header it sends whose name has no "_": host, x-sdk-date,
                        content-type, user-agent, x-project-id, ...).
      signed headers    SignedHeaders as given (lower-case, ";"-separated).
      payload hash      hex SHA-256 of the body bytes; the hash of b"" when the body is empty; when the signed
                        header X-Sdk-Content-Sha256 is present, its value instead: "UNSIGNED-PAYLOAD" (the SDK
                        sends it for every Content-Type but application/json and application/bson, so multipart
                        uploads are signed without their body) or a hex hash, which must then match the body.
    string to sign = "SDK-HMAC-SHA256" "\\n" X-Sdk-Date "\\n" hex SHA-256(canonical request)
    signature      = hex HMAC-SHA256(secret key, string to sign), compared in constant time.

What the verifier adds to the arithmetic: `host` and `x-sdk-date` must be among the signed headers (the SDK always
signs both), every signed header must be present, X-Sdk-Content-Sha256 must be signed when sent, and X-Sdk-Date must
be within `skew` seconds of `now` (default 900 s, the 15 minutes of Huawei's API gateway): a captured request cannot
be replayed outside that window. Inside it, it can (as at Huawei's gateway: there is no nonce); with
UNSIGNED-PAYLOAD the body is not covered by the signature at all.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import quote, unquote_to_bytes

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
CONTENT_HASH_HEADER = "x-sdk-content-sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
REQUIRED_SIGNED = ("host", DATE_HEADER)
DEFAULT_SKEW = 900.0  # seconds: Huawei's API gateway refuses an X-Sdk-Date more than 15 minutes away
EMPTY_HASH = hashlib.sha256(b"").hexdigest()

_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^`|~-]+")  # an RFC 9110 token, lower-case
# Stands in for the secret of an unknown access key, so that both failures take the same work.
_NO_SECRET = b"\x00" * 32


class SignatureError(Exception):
    """The request is not correctly signed. `reason` is a stable word for logs and tests: malformed, unsigned,
    unknown_key, bad_signature, stale, body_hash; the message says what is wrong without quoting any secret."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class MissingHeader(SignatureError):
    """A header the signature needs (Authorization, X-Sdk-Date, or a signed header) is absent or empty."""

    def __init__(self, name: str) -> None:
        super().__init__("missing_header", f"{name} is required.")
        self.name = name


@dataclass(frozen=True)
class Authorization:
    access: str
    signed_headers: tuple[str, ...]
    signature: str


def is_signed(authorization: str | None) -> bool:
    """True when an Authorization header value claims an SDK-HMAC-SHA256 signature."""
    scheme = (authorization or "").strip().split(None, 1)
    return bool(scheme) and scheme[0].upper() == ALGORITHM


def parse_authorization(value: str) -> Authorization:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.upper() != ALGORITHM:
        raise SignatureError("malformed", f"Authorization is not an {ALGORITHM} signature.")
    params: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, val = item.strip().partition("=")
        if not sep or name in params:
            raise SignatureError("malformed", "Authorization must be: "
                                 f"{ALGORITHM} Access=..., SignedHeaders=..., Signature=...")
        params[name] = val.strip()
    if set(params) != {"Access", "SignedHeaders", "Signature"} or not params["Access"]:
        raise SignatureError("malformed", f"Authorization must be: {ALGORITHM} Access=..., SignedHeaders=..., "
                                          "Signature=...")
    signed = tuple(params["SignedHeaders"].split(";"))
    if not all(_HEADER_NAME.fullmatch(name) for name in signed) or len(set(signed)) != len(signed):
        raise SignatureError("malformed", "SignedHeaders must be distinct lower-case header names joined by ';'.")
    signature = params["Signature"].lower()
    if not _HEX64.fullmatch(signature):
        raise SignatureError("malformed", "Signature must be 64 hexadecimal digits.")
    return Authorization(params["Access"], signed, signature)


def _encode(text: str | bytes) -> str:
    return quote(text, safe="~")  # str: UTF-8 first; unreserved characters (and "~") kept, like the SDK


def canonical_uri(path: str) -> str:
    """`path` URL-decoded (WSGI's PATH_INFO, Flask's request.path): each segment encoded, with a trailing "/"."""
    uri = "/".join(_encode(segment) for segment in path.split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: str | bytes) -> str:
    """`query`: the raw query string as sent (without "?"): bytes as WSGI servers keep it (Flask's
    request.query_string), or text (encoded as UTF-8). "+" stays "+": the SDK encodes a space as %20, never "+"."""
    raw = query.encode("utf-8") if isinstance(query, str) else query
    pairs = []
    for item in raw.split(b"&"):
        if item:
            key, _, value = item.partition(b"=")
            pairs.append((unquote_to_bytes(key), unquote_to_bytes(value)))
    # Sorted as the SDK sorts its decoded (key, value) pairs: UTF-8 byte order is code point order.
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(pairs))


def _header_value(value: str) -> str:
    # WSGI hands header bytes over as ISO-8859-1; the SDK sends its values as UTF-8 bytes and signs the text.
    try:
        value = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return value.strip()


def _lower_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for name, value in items:
        name = name.lower()
        found[name] = f"{found[name]},{value}" if name in found else value
    return found


def _timestamp(value: str) -> float:
    match = _DATE.fullmatch(value.strip())
    try:
        if not match:
            raise ValueError
        return datetime(*(int(part) for part in match.groups()), tzinfo=timezone.utc).timestamp()
    except ValueError:  # also a 13th month, a 31st of February, a 25th hour
        raise SignatureError("malformed", "X-Sdk-Date must be a UTC time like 20250101T120000Z.") from None


def payload_hash(body: bytes, declared: str | None) -> str:
    """The canonical request's last line (see the module doc)."""
    if not body:
        return EMPTY_HASH
    if not declared:
        return hashlib.sha256(body).hexdigest()
    if declared == UNSIGNED_PAYLOAD:
        return declared
    if not hmac.compare_digest(declared.lower().encode(), hashlib.sha256(body).hexdigest().encode()):
        raise SignatureError("body_hash", "The body does not match X-Sdk-Content-Sha256.")
    return declared


def canonical_request(method: str, path: str, query: str | bytes, headers: Mapping[str, str],
                      signed_headers: Iterable[str], body: bytes) -> str:
    """`headers`: lower-case names -> values as sent."""
    signed = list(signed_headers)
    lines = "".join(f"{name}:{_header_value(headers[name])}\n" for name in signed)
    return "\n".join((method.upper(), canonical_uri(path), canonical_query(query), lines, ";".join(signed),
                      payload_hash(body, headers.get(CONTENT_HASH_HEADER))))


def string_to_sign(date: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def signature(secret: str | bytes, text: str) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(method: str, path: str, query: str | bytes, headers: Mapping[str, str] | Iterable[tuple[str, str]],
           body: bytes, credentials: Mapping[str, str], now: float, skew: float = DEFAULT_SKEW) -> str:
    """The access key of a request correctly signed with one of `credentials` (access key -> secret key), dated
    within `skew` seconds of `now` (seconds since the epoch); else SignatureError.

    `path` URL-decoded, `query` raw (as sent), `headers` as received (any case; values as WSGI gives them),
    `body` the exact body bytes."""
    found = _lower_headers(headers)
    authorization = found.get("authorization", "").strip()
    if not authorization:
        raise MissingHeader("Authorization")
    auth = parse_authorization(authorization)
    date = found.get(DATE_HEADER, "").strip()
    if not date:
        raise MissingHeader("X-Sdk-Date")
    missing = [name for name in REQUIRED_SIGNED if name not in auth.signed_headers]
    if missing:
        raise SignatureError("unsigned", f"SignedHeaders must include {' and '.join(missing)}.")
    if CONTENT_HASH_HEADER in found and CONTENT_HASH_HEADER not in auth.signed_headers:
        raise SignatureError("unsigned", "SignedHeaders must include x-sdk-content-sha256 when it is sent.")
    for name in auth.signed_headers:
        if name not in found:
            raise MissingHeader(f"The signed header {name}")
    if abs(now - _timestamp(date)) > skew:
        raise SignatureError("stale", f"X-Sdk-Date is more than {skew:g} seconds away from this device's clock.")
    canonical = canonical_request(method, path, query, found, auth.signed_headers, body)
    secret = credentials.get(auth.access)
    expected = signature(_NO_SECRET if secret is None else secret, string_to_sign(date, canonical))
    matches = hmac.compare_digest(expected.encode(), auth.signature.encode())
    if secret is None:
        raise SignatureError("unknown_key", "The access key is not known to this device.")
    if not matches:
        raise SignatureError("bad_signature", "The signature does not match the request (check the secret key, "
                                              "the clock and the request as sent).")
    return auth.access
