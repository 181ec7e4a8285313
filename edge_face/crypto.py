"""AES-256-GCM exactly as the SenseID vendor client does it.

Key = UTF-8 bytes of a 32-character string, nonce = UTF-8 bytes of a 12-character string fixed per deployment,
output = standard Base64 of ciphertext || 16-byte tag.
"""
from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class DecryptError(ValueError):
    """The field is not Base64, or GCM authentication failed (wrong key, iv or altered data)."""


class VendorCipher:
    def __init__(self, key: str, iv: str) -> None:
        key_bytes, iv_bytes = key.encode("utf-8"), iv.encode("utf-8")
        if len(key_bytes) != 32 or len(iv_bytes) != 12:
            raise ValueError("key must be 32 bytes and iv 12 bytes as UTF-8")
        self._aead = AESGCM(key_bytes)
        self._iv = iv_bytes

    def encrypt(self, plaintext: bytes) -> str:
        return base64.b64encode(self._aead.encrypt(self._iv, plaintext, None)).decode("ascii")

    def decrypt(self, text: str | bytes) -> bytes:
        if isinstance(text, bytes):
            try:
                text = text.decode("ascii")
            except UnicodeDecodeError:
                raise DecryptError("not Base64") from None
        # Clients that do not URL-encode turn '+' into ' '; tolerate missing padding and line breaks.
        cleaned = "".join(text.replace(" ", "+").split())
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            raw = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptError("not Base64") from None
        if len(raw) < 16:
            raise DecryptError("too short for an AES-GCM tag")
        try:
            return self._aead.decrypt(self._iv, raw, None)
        except InvalidTag:
            raise DecryptError("authentication failed (wrong key or altered data)") from None
