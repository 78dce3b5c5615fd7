"""HMAC-SHA256 request signatures over the raw body bytes, compared in constant time."""

from __future__ import annotations

import hmac

from .base import SignatureCheck


def hmac_hex(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the exact bytes received (never a re-serialised body)."""
    return hmac.digest(secret.encode("utf-8"), body, "sha256").hex()  # one call into OpenSSL


def check(body: bytes, provided: str | None, secret: str, *, prefix: str = "") -> SignatureCheck:
    """Compare a signature header value (`prefix` + hex) with the HMAC of `body` under `secret`."""
    if provided is None or not provided.strip():
        return "missing"
    value = provided.strip()
    if prefix:
        if not value.lower().startswith(prefix):
            return "invalid"
        value = value[len(prefix):]
    try:
        given = value.lower().encode("ascii")
    except UnicodeEncodeError:
        return "invalid"
    expected = hmac_hex(secret, body).encode("ascii")
    return "ok" if hmac.compare_digest(given, expected) else "invalid"
