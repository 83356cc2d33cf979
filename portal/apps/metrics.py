"""App metrics counters (views, downloads, likes) kept in ``app_metrics``.

Counters change with one ``UPDATE app_metrics SET x = x + n`` each: the database adds under
its row lock, so concurrent downloads never lose an increment (a read-modify-write in Python
would). The row is created on demand with ``INSERT ... ON CONFLICT DO NOTHING`` so two
first-time requests racing to create it do not fail either.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.apps.models import AppMetrics, QuantumApp
from portal.core.db import utcnow
from portal.core.extensions import db

COUNTERS = {"views": "views", "downloads": "downloads", "likes": "registry_likes"}


def ensure_app_metrics(app_id: uuid.UUID, session: Session | None = None) -> None:
    """Create the app's metrics row if it does not exist yet (race-safe)."""
    session = session or db.session
    now = utcnow()
    statement = (
        insert(AppMetrics)
        .values(
            id=uuid.uuid4(),
            quantum_app_id=app_id,
            views=0,
            downloads=0,
            registry_likes=0,
            marketplace_likes=0,
            number_of_subscriptions=0,
            average_rating=0.0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["quantum_app_id"])
    )
    session.execute(statement)


def increment(app_id: uuid.UUID, counter: str, by: int = 1, session: Session | None = None) -> None:
    """Atomically add ``by`` (may be negative) to ``counter`` ("views", "downloads", "likes")
    in ``session`` (the request's by default)."""
    session = session or db.session
    column = getattr(AppMetrics, COUNTERS[counter])
    # Never below zero (an unlike racing a recount); the CASE runs inside the UPDATE.
    value = sa.case((column + by < 0, 0), else_=column + by) if by < 0 else column + by
    statement = (
        sa.update(AppMetrics)
        .where(AppMetrics.quantum_app_id == app_id)
        .values({column: value, AppMetrics.updated_at: utcnow()})
        .execution_options(synchronize_session=False)
    )
    # One statement when the row exists (nearly always); create it only when it does not.
    if session.execute(statement).rowcount == 0:
        ensure_app_metrics(app_id, session)
        session.execute(statement)


def add_views(counts: dict[uuid.UUID, int], session: Session) -> None:
    """Add many apps' buffered views: create the rows still missing (for apps that still
    exist), then one ``UPDATE .. FROM (VALUES ..)`` (a deleted app's views drop out)."""
    ids = set(counts)
    have = set(
        session.scalars(
            sa.select(AppMetrics.quantum_app_id).where(AppMetrics.quantum_app_id.in_(ids))
        )
    )
    if ids - have:
        alive = session.scalars(sa.select(QuantumApp.id).where(QuantumApp.id.in_(ids - have)))
        for app_id in sorted(alive):
            ensure_app_metrics(app_id, session)
    batch = sa.values(sa.column("app_id", sa.Uuid), sa.column("n", sa.Integer), name="batch").data(
        sorted(counts.items())
    )  # one lock order for concurrent flushers
    session.execute(
        sa.update(AppMetrics)
        .where(AppMetrics.quantum_app_id == batch.c.app_id)
        .values(views=AppMetrics.views + batch.c.n, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def app_metrics(app_id: uuid.UUID) -> AppMetrics:
    """The app's metrics row, created if missing, freshly read from the database."""
    select = (
        sa.select(AppMetrics)
        .where(AppMetrics.quantum_app_id == app_id)
        .execution_options(populate_existing=True)
    )
    row = db.session.execute(select).scalar_one_or_none()
    if row is None:
        ensure_app_metrics(app_id)
        row = db.session.execute(select).scalar_one()
    return row


def set_figures(app_id: uuid.UUID, **values: int | float) -> None:
    """Overwrite recomputed figures (e.g. ``number_of_subscriptions``, ``average_rating``)
    with one UPDATE. Callers recount from the source rows under a lock, so the figure
    always matches them (no drift from missed increments)."""
    allowed = {"number_of_subscriptions", "average_rating", "marketplace_likes"}
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"not a recomputed figure: {sorted(unknown)}")
    ensure_app_metrics(app_id)
    db.session.execute(
        sa.update(AppMetrics)
        .where(AppMetrics.quantum_app_id == app_id)
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
