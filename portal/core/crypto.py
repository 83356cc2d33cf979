"""Encryption at rest for secrets the portal must read back (e.g. provider payout details).

Keys come from ``QH_ENCRYPTION_KEYS``: comma-separated Fernet keys, newest first. The newest
encrypts; all of them decrypt, so a key can be rotated in without downtime, then
``flask --app wsgi rotate-encryption`` re-encrypts every stored value with the newest key
and the old key can be retired. Without the variable (development), one key is derived from
``QH_SECRET_KEY``.
"""

from __future__ import annotations

import base64
import hashlib

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

from portal.core.errors import ServiceUnavailable


def derive_key(secret: str) -> str:
    digest = hashlib.sha256(b"quantum-hub-encryption:" + secret.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def keys_from_config(config) -> list[str]:
    raw = config.get("ENCRYPTION_KEYS") or ""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    return keys or [derive_key(config["SECRET_KEY"])]


def cipher() -> MultiFernet:
    ext = current_app.extensions.setdefault("qh_crypto", {})
    if "cipher" not in ext:
        ext["cipher"] = MultiFernet([Fernet(k) for k in keys_from_config(current_app.config)])
    return ext["cipher"]


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return cipher().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        # Data encrypted with a key that is no longer configured: an operator error.
        raise ServiceUnavailable("Stored data cannot be decrypted with the configured keys.")


def rotate(token: str) -> str:
    return cipher().rotate(token.encode("ascii")).decode("ascii")


class EncryptedText(sa.types.TypeDecorator):
    """A text column stored as a Fernet token; Python code sees the plaintext."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)


def encrypted_columns(metadata: sa.MetaData) -> list[sa.Column]:
    return [
        column
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText)
    ]


def rotate_all(session, metadata: sa.MetaData) -> int:
    """Re-encrypt every encrypted value with the newest key; returns how many changed."""
    changed = 0
    for column in encrypted_columns(metadata):
        table = column.table
        raw = sa.table(table.name, sa.column("id"), sa.column(column.name, sa.Text))
        rows = session.execute(
            sa.select(raw.c.id, raw.c[column.name]).where(raw.c[column.name].is_not(None))
        ).all()
        for row_id, token in rows:
            session.execute(
                sa.update(raw).where(raw.c.id == row_id).values({column.name: rotate(token)})
            )
            changed += 1
    return changed
