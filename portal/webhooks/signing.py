"""Signing and verifying webhook deliveries (no portal imports: clients may copy this file).

The header, like Stripe's::

    QH-Signature: t=1764634800,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

``v1`` is the hex HMAC-SHA256, keyed with the owner's webhook secret, of
``f"{t}.{raw request body}"``. A receiver recomputes it over the raw body (before parsing the
JSON), compares in constant time and refuses a timestamp older than a tolerance (replays of
a captured request). During a secret rotation the header may carry several ``v1`` values.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "QH-Signature"
DEFAULT_TOLERANCE = 300  # seconds


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale or does not match."""


def compute(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``QH-Signature`` header value for ``body`` sent at ``timestamp`` (now)."""
    t = int(time.time() if timestamp is None else timestamp)
    return f"t={t},v1={compute(secret, body, t)}"


def parse(header: str) -> tuple[int, list[str]]:
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed signature header")
    return timestamp, signatures


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> int:
    """Check ``header`` against the raw ``body``; returns the signed timestamp or raises
    ``SignatureError``."""
    timestamp, signatures = parse(header)
    now = time.time() if now is None else now
    if tolerance and abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    expected = compute(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("signature mismatch")
    return timestamp
