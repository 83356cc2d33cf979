"""Usage counters: one row per (user, app, endpoint, day), incremented atomically.

Billing and the analytics charts read ``usage_analytics``; writers call ``record_usage``.
Many workers and web processes increment the same row at once, so the increment happens in
the database, never as read-modify-write in Python:

- PostgreSQL: ``INSERT .. ON CONFLICT DO UPDATE`` on the unique key. The key includes the
  nullable ``quantum_app_id`` and NULLs never conflict in a unique index, so rows without an
  app (a user's own circuits) are serialised with a transaction-level advisory lock on the
  key, then updated or inserted.
- SQLite (embedded default): the same upsert where the key has an app; without one, an
  ``UPDATE`` then ``INSERT`` — SQLite has one writer at a time, so this cannot race.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.analytics.models import UsageAnalytics
from portal.core.db import utcnow
from portal.extensions import db


def _lock_key(*parts: object) -> int:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def record_usage(
    user_id: uuid.UUID,
    endpoint: str,
    *,
    quantum_app_id: uuid.UUID | None = None,
    day: date | None = None,
    requests: int = 1,
    compute_seconds: float = 0.0,
    session: Session | None = None,
) -> None:
    """Add ``requests`` and ``compute_seconds`` to the day's counter in ``session`` (the
    request's by default; flush, no commit)."""
    session = session or db.session
    day = day or utcnow().date()
    endpoint = endpoint[:255]
    table = UsageAnalytics.__table__
    dialect = session.get_bind().dialect.name
    now = utcnow()
    values = {
        "id": uuid.uuid4(),
        "created_at": now,
        "updated_at": now,
        "user_id": user_id,
        "quantum_app_id": quantum_app_id,
        "endpoint": endpoint,
        "date": day,
        "request_count": requests,
        "compute_time_seconds": compute_seconds,
    }
    if quantum_app_id is not None and dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "quantum_app_id", "endpoint", "date"],
            set_={
                "request_count": table.c.request_count + stmt.excluded.request_count,
                "compute_time_seconds": table.c.compute_time_seconds
                + stmt.excluded.compute_time_seconds,
                "updated_at": now,
            },
        )
        session.execute(stmt)
        return
    if dialect == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(user_id, endpoint, day))))
    updated = session.execute(
        sa.update(table)
        .where(
            table.c.user_id == user_id,
            table.c.quantum_app_id.is_(None),
            table.c.endpoint == endpoint,
            table.c.date == day,
        )
        .values(
            request_count=table.c.request_count + requests,
            compute_time_seconds=table.c.compute_time_seconds + compute_seconds,
            updated_at=now,
        )
    )
    if updated.rowcount == 0:
        session.execute(sa.insert(table).values(**values))
