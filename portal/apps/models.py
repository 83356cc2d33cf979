"""Quantum apps, their versions, tags and documentation pages."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core import cache
from portal.core.db import (
    JSONType,
    StringArray,
    Timestamped,
    UTCDateTime,
    enum_column,
    unmapped_columns,
)
from portal.core.extensions import db


class AppType(enum.Enum):
    CIRCUIT = "CIRCUIT"
    ALGORITHM = "ALGORITHM"
    HYBRID = "HYBRID"
    LIBRARY = "LIBRARY"
    SERVICE = "SERVICE"


class AppVisibility(enum.Enum):
    PRIVATE = "PRIVATE"
    UNLISTED = "UNLISTED"
    PUBLIC = "PUBLIC"


class LicenseType(enum.Enum):
    MIT = "MIT"
    APACHE_2_0 = "APACHE_2_0"
    BSD_3_CLAUSE = "BSD_3_CLAUSE"
    GPL_3_0 = "GPL_3_0"
    LGPL_3_0 = "LGPL_3_0"
    MPL_2_0 = "MPL_2_0"
    PROPRIETARY = "PROPRIETARY"
    OTHER = "OTHER"


class SDKType(enum.Enum):
    OPENQASM2 = "OPENQASM2"
    OPENQASM3 = "OPENQASM3"
    QISKIT = "QISKIT"
    CIRQ = "CIRQ"
    PENNYLANE = "PENNYLANE"
    BRAKET = "BRAKET"
    OTHER = "OTHER"


class VersionStatus(enum.Enum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    DEPRECATED = "DEPRECATED"
    YANKED = "YANKED"


# The weighted document the registry searches: name first, then description and keywords (the
# tag names and the developer's username and full name), then README. PostgreSQL stores it in
# the generated column ``quantum_apps.search_vector``, and triggers keep the copied words in
# ``quantum_apps.search_keywords`` current (migrations 0005 and 0010). Neither is mapped: the
# database computes both, and searches match and rank with the vector.
SEARCH_VECTOR_SQL = (
    "(((setweight(to_tsvector('english'::regconfig, COALESCE(name, ''::character varying)::text), "
    "'A'::\"char\") || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(description, ''::text)), "
    "'B'::\"char\")) || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(readme_content, ''::text)), "
    "'C'::\"char\")) || "
    "setweight(to_tsvector('english'::regconfig, COALESCE(search_keywords, ''::text)), "
    "'B'::\"char\"))"
)

# Beyond the seed: apps carry many tags and tags label many apps.
app_tags = sa.Table(
    "app_tags",
    db.metadata,
    sa.Column(
        "quantum_app_id",
        sa.Uuid,
        sa.ForeignKey("quantum_apps.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("tag_id", sa.Uuid, sa.ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_app_tags_tag_id", "tag_id"),
)


class QuantumApp(Timestamped, db.Model):
    __tablename__ = "quantum_apps"
    __table_args__ = (
        sa.Index("ix_quantum_apps_developer_id", "developer_id"),
        sa.Index("ix_quantum_apps_registry", "is_in_registry", "visibility"),
        sa.Index("ix_quantum_apps_created_at", "created_at"),
        sa.Index("ix_quantum_apps_name", "name"),
        # Registry search: a GIN index over the stored ``search_vector`` column, generated
        # from SEARCH_VECTOR_SQL (migrations 0005 and 0010).
        sa.Index("ix_quantum_apps_search", sa.text("search_vector"), postgresql_using="gin"),
    )

    developer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str | None] = mapped_column(sa.Text)
    type: Mapped[AppType] = mapped_column(enum_column(AppType))
    status: Mapped[list[str]] = mapped_column(StringArray, default=lambda: ["DRAFT"])
    visibility: Mapped[AppVisibility] = mapped_column(
        enum_column(AppVisibility), default=AppVisibility.PRIVATE
    )
    latest_version_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("app_versions.id", use_alter=True, ondelete="SET NULL")
    )
    api_url: Mapped[str | None] = mapped_column(sa.String(255))
    documentation_url: Mapped[str | None] = mapped_column(sa.String(255))
    license_type: Mapped[LicenseType | None] = mapped_column(
        enum_column(LicenseType), default=LicenseType.MIT
    )
    license_url: Mapped[str | None] = mapped_column(sa.String(255))
    readme_content: Mapped[str | None] = mapped_column(sa.Text)
    repository_url: Mapped[str | None] = mapped_column(sa.String(255))
    is_in_registry: Mapped[bool] = mapped_column(default=False)
    registry_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    featured_in_registry: Mapped[bool] = mapped_column(default=False)
    registry_download_count: Mapped[int] = mapped_column(default=0)

    developer = relationship("User")
    versions: Mapped[list[AppVersion]] = relationship(
        back_populates="app",
        cascade="all, delete-orphan",
        foreign_keys="AppVersion.quantum_app_id",
        order_by="AppVersion.created_at",
    )
    latest_version: Mapped[AppVersion | None] = relationship(
        foreign_keys=[latest_version_id], post_update=True
    )
    tags: Mapped[list[Tag]] = relationship(secondary=app_tags, order_by="Tag.name")
    metrics = relationship("AppMetrics", uselist=False, viewonly=True)
    documentation: Mapped[list[Documentation]] = relationship(
        order_by="(Documentation.order, Documentation.created_at)",
        cascade="all, delete-orphan",
    )


class AppVersion(Timestamped, db.Model):
    __tablename__ = "app_versions"
    __table_args__ = (
        sa.UniqueConstraint("quantum_app_id", "version_number"),
        # At most one latest version per app, enforced by the database even under races.
        sa.Index(
            "ux_app_versions_one_latest",
            "quantum_app_id",
            unique=True,
            postgresql_where=sa.text("is_latest"),
        ),
    )

    quantum_app_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("quantum_apps.id", ondelete="CASCADE"), index=True
    )
    version_number: Mapped[str] = mapped_column(sa.String(20))
    sdk_used: Mapped[SDKType] = mapped_column(enum_column(SDKType))
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    built_on_quantum_sdk_version: Mapped[str | None] = mapped_column(sa.String(50))
    preferred_platform: Mapped[str | None] = mapped_column(sa.String(50))
    preferred_device_id: Mapped[str | None] = mapped_column(sa.String(50))
    number_of_qubits: Mapped[int | None]
    average_execution_time: Mapped[str | None] = mapped_column(sa.String(50))
    source_repo: Mapped[str | None] = mapped_column(sa.String(255))
    source_commit_hash: Mapped[str | None] = mapped_column(sa.String(100))
    package_path: Mapped[str | None] = mapped_column(sa.String(255))
    package_data: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    ir_type: Mapped[str | None] = mapped_column(sa.String(50))
    ir_path: Mapped[str | None] = mapped_column(sa.String(255))
    resource_estimate: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cost_estimate: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    benchmark_results: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    finetune_params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    validation_results: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    security_scan_results: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    release_notes: Mapped[str | None] = mapped_column(sa.Text)
    is_latest: Mapped[bool] = mapped_column(default=False)
    status: Mapped[VersionStatus] = mapped_column(
        enum_column(VersionStatus), default=VersionStatus.DRAFT
    )
    # Beyond the seed: the program that runs (parameterised OpenQASM 3), why a version was
    # yanked, when it was published, and the package checksum shown next to downloads.
    entry_program: Mapped[str | None] = mapped_column(sa.Text)
    yank_reason: Mapped[str | None] = mapped_column(sa.String(255))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    package_sha256: Mapped[str | None] = mapped_column(sa.String(64))

    app: Mapped[QuantumApp] = relationship(back_populates="versions", foreign_keys=[quantum_app_id])


class Tag(Timestamped, db.Model):
    __tablename__ = "tags"

    name: Mapped[str] = mapped_column(sa.String(50), unique=True)
    category: Mapped[str | None] = mapped_column(sa.String(50))


class Documentation(Timestamped, db.Model):
    __tablename__ = "documentation"
    __table_args__ = (sa.Index("ix_documentation_app_order", "quantum_app_id", "order"),)

    quantum_app_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("quantum_apps.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(sa.String(100))
    content: Mapped[str] = mapped_column(sa.Text)
    order: Mapped[int] = mapped_column(default=0)


class AppLike(Timestamped, db.Model):
    """Beyond the seed: who liked which registry app, once per (user, app), so the likes
    toggle is idempotent and app_metrics.registry_likes can be trusted."""

    __tablename__ = "app_likes"
    __table_args__ = (sa.UniqueConstraint("user_id", "quantum_app_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    quantum_app_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("quantum_apps.id", ondelete="CASCADE"), index=True
    )


class AppMetrics(Timestamped, db.Model):
    __tablename__ = "app_metrics"

    quantum_app_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("quantum_apps.id", ondelete="CASCADE"), unique=True
    )
    views: Mapped[int] = mapped_column(default=0)
    downloads: Mapped[int] = mapped_column(default=0)
    registry_likes: Mapped[int] = mapped_column(default=0)
    marketplace_likes: Mapped[int] = mapped_column(default=0)
    number_of_subscriptions: Mapped[int] = mapped_column(default=0)
    average_rating: Mapped[float] = mapped_column(default=0.0)


# Listings change with the apps, their versions, tags and documents (portal.core.cache).
cache.watch(QuantumApp, AppVersion, Tag, Documentation)
# Full-text search columns the database maintains (migrations), not mapped here.
unmapped_columns(QuantumApp.__tablename__, "search_vector", "search_keywords")
