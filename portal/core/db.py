"""The declarative base, the common columns and the column types of the models.

PostgreSQL is the only database, so the models use its types directly: JSONB, ARRAY and
``TIMESTAMP WITH TIME ZONE`` read back as timezone-aware UTC.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def ping_idle_connections(engine: sa.Engine) -> None:
    """Make the pool recover by itself after a PostgreSQL restart, for about one round trip
    less per request than ``pool_pre_ping``, which pings on every checkout (measured: 0.2–0.3
    ms of CPU per request that uses the database). Under load a connection is back in the
    pool and out again within milliseconds, so only one idle for over a second is pinged; a
    dead one is then replaced before use. A connection that died within that second fails
    at its first statement (that request gets the 503 page) and SQLAlchemy replaces the whole
    pool."""

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection, record) -> None:
        record.info["qh_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy) -> None:
        since = record.info.get("qh_idle_since")  # None: connected just now
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool discards it and connects anew
            raise sa.exc.DisconnectionError(str(exc)) from exc


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """``TIMESTAMP WITH TIME ZONE`` written as UTC: a naive value is taken as UTC, not as the
    server's local time. PostgreSQL returns these columns aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB (indexable, compact) and a text array, under the names the models use.
JSONType = postgresql.JSONB()
StringArray = postgresql.ARRAY(sa.String())
Money = sa.Numeric(12, 2)


def enum_column(enum_cls, **kwargs):
    """Enums stored as their member names in a VARCHAR: no native type to migrate, and
    adding a member needs no ALTER TYPE."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        validate_strings=True,
        **kwargs,
    )


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    """UUID primary key and creation/update times, on every table."""

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )

    def __repr__(self) -> str:
        label = getattr(self, "name", None) or getattr(self, "username", None) or ""
        return f"<{type(self).__name__} {self.id} {label}>".replace(" >", ">")


# Columns the database maintains itself and the models do not map: each domain names its own
# with ``unmapped_columns`` where its models are defined (apps: the search columns).
UNMAPPED_COLUMNS: set[tuple[str, str]] = set()


def unmapped_columns(table: str, *columns: str) -> None:
    """Autogenerate leaves these database-maintained columns of ``table`` alone."""
    UNMAPPED_COLUMNS.update((table, column) for column in columns)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic autogenerate filter: leave the unmapped, database-maintained columns alone."""
    if type_ == "column" and reflected and compare_to is None:
        return (obj.table.name, name) not in UNMAPPED_COLUMNS
    return True
