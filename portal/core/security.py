"""Secret tokens shown once and stored as hashes (API keys, subscription keys, mail links).

Keys are 32 random bytes, so a fast SHA-256 is the right hash: there is nothing to brute
force, and lookups stay a single indexed query. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX_LENGTH = 12


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(kind: str) -> tuple[str, str, str]:
    """A fresh secret ``<kind>_<random>``: (plaintext shown once, visible prefix, hash)."""
    plaintext = f"{kind}_{secrets.token_urlsafe(32)}"
    return plaintext, plaintext[:PREFIX_LENGTH], hash_token(plaintext)


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)
