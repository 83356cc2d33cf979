"""Usage counters: one row per (user, app, endpoint, day), incremented atomically.

Billing and the analytics charts read ``usage_analytics``; writers call ``record_usage``.
Many workers and web processes increment the same row at once, so the increment happens in
the database, never as read-modify-write in Python: ``INSERT .. ON CONFLICT DO UPDATE`` on
the unique key. The key includes the nullable ``quantum_app_id`` and NULLs never conflict in
a unique index, so rows without an app (a user's own circuits) are serialised with a
transaction-level advisory lock on the key, then updated or inserted.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.analytics.models import UsageAnalytics
from portal.core.db import utcnow
from portal.core.extensions import db


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
    if quantum_app_id is not None:
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


def add_requests(counts: dict[tuple[uuid.UUID, str, date], int], session: Session) -> None:
    """Many (user, endpoint, day) request counts without an app — the buffered API-key
    requests — in a few statements: every key's advisory lock in one sorted pass (the same
    locks ``record_usage`` takes), one ``UPDATE .. FROM (VALUES ..)`` for the rows that
    exist, one ``INSERT .. SELECT`` for the others (a deleted user's drop out)."""
    from portal.accounts.models import User

    table, now = UsageAnalytics.__table__, utcnow()
    keys = sorted({_lock_key(u, e, d) for u, e, d in counts})
    session.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS t(k) "
            "ORDER BY k"
        ),
        {"keys": keys},
    )
    batch = _request_rows("batch", [(u, e[:255], d, n) for (u, e, d), n in sorted(counts.items())])
    updated = session.execute(
        sa.update(table)
        .where(
            table.c.user_id == batch.c.user_id,
            table.c.quantum_app_id.is_(None),
            table.c.endpoint == batch.c.endpoint,
            table.c.date == batch.c.day,
        )
        .values(request_count=table.c.request_count + batch.c.n, updated_at=now)
        .returning(table.c.user_id, table.c.endpoint, table.c.date)
    )
    done = {tuple(row) for row in updated}
    missing = [(u, e[:255], d, n) for (u, e, d), n in counts.items() if (u, e[:255], d) not in done]
    if not missing:
        return
    rest = _request_rows("rest", missing)
    session.execute(
        sa.insert(table).from_select(
            [
                "id",
                "created_at",
                "updated_at",
                "user_id",
                "quantum_app_id",
                "endpoint",
                "date",
                "request_count",
                "compute_time_seconds",
            ],
            sa.select(
                sa.func.gen_random_uuid(),
                sa.literal(now),
                sa.literal(now),
                rest.c.user_id,
                sa.null(),
                rest.c.endpoint,
                rest.c.day,
                rest.c.n,
                sa.literal(0.0),
            ).join(User, User.id == rest.c.user_id),
        )
    )


def _request_rows(name: str, rows: list[tuple[uuid.UUID, str, date, int]]):
    """(user_id, endpoint, day, n) rows as a ``VALUES`` list to join against."""
    return sa.values(
        sa.column("user_id", sa.Uuid),
        sa.column("endpoint", sa.String),
        sa.column("day", sa.Date),
        sa.column("n", sa.Integer),
        name=name,
    ).data(rows)
