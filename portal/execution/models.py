"""The hardware catalogue, jobs and their results."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import JSONType, Money, StringArray, Timestamped, UTCDateTime, enum_column
from portal.core.extensions import db


class HardwareTechnology(enum.Enum):
    SIMULATOR = "SIMULATOR"
    SUPERCONDUCTING = "SUPERCONDUCTING"
    TRAPPED_ION = "TRAPPED_ION"
    NEUTRAL_ATOM = "NEUTRAL_ATOM"
    PHOTONIC = "PHOTONIC"
    SPIN_QUBIT = "SPIN_QUBIT"


class HardwarePlatform(enum.Enum):
    AER = "AER"
    IBM_QUANTUM = "IBM_QUANTUM"
    AMAZON_BRAKET = "AMAZON_BRAKET"
    AZURE_QUANTUM = "AZURE_QUANTUM"
    IONQ = "IONQ"
    RIGETTI = "RIGETTI"
    QUANTINUUM = "QUANTINUUM"
    OTHER = "OTHER"


class HardwareStatus(enum.Enum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    MAINTENANCE = "MAINTENANCE"
    RETIRED = "RETIRED"


class JobRunMode(enum.Enum):
    BLOCKING = "BLOCKING"
    ASYNC = "ASYNC"


class JobStatus(enum.Enum):
    PROVISIONING = "PROVISIONING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class Hardware(Timestamped, db.Model):
    __tablename__ = "hardware"

    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    provider: Mapped[str] = mapped_column(sa.String(100))
    technology_type: Mapped[HardwareTechnology] = mapped_column(enum_column(HardwareTechnology))
    platform: Mapped[HardwarePlatform] = mapped_column(enum_column(HardwarePlatform))
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[HardwareStatus] = mapped_column(
        enum_column(HardwareStatus), default=HardwareStatus.OFFLINE, index=True
    )
    qubits: Mapped[int | None]
    connectivity_map: Mapped[Any | None] = mapped_column(JSONType)
    gate_set: Mapped[list[str] | None] = mapped_column(StringArray)
    average_queue_time: Mapped[int | None]  # minutes
    cost_per_hour: Mapped[Decimal | None] = mapped_column(Money)
    documentation_url: Mapped[str | None] = mapped_column(sa.String(255))
    # Beyond the seed: how the portal runs it and prices it.
    backend_config: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cost_per_shot: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 6))
    cost_per_job: Mapped[Decimal | None] = mapped_column(Money)
    min_shots: Mapped[int] = mapped_column(default=1)
    max_shots: Mapped[int] = mapped_column(default=100_000)


class Job(Timestamped, db.Model):
    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index("ix_jobs_user_id_created_at", "user_id", "created_at"),
        sa.Index("ix_jobs_status_updated_at", "status", "updated_at"),
        # A job's place in the queue counts the queued jobs ahead of it, on every status poll.
        sa.Index(
            "ix_jobs_queued_at_queued",
            "queued_at",
            postgresql_where=sa.text("status = 'QUEUED'"),
        ),
        # The wait estimate reads a device's latest completed runs (``queue.recent_run_seconds``).
        sa.Index(
            "ix_jobs_device_id_finished_at_completed",
            "device_id",
            "finished_at",
            postgresql_where=sa.text("status = 'COMPLETED'"),
        ),
        sa.Index("ix_jobs_subscription_id", "subscription_id"),
        sa.Index(
            "ix_jobs_subscription_key_id",
            "subscription_key_id",
            postgresql_where=sa.text("subscription_key_id IS NOT NULL"),
        ),
    )

    # Nullable beyond the seed: a user's own circuits are paid by the user, not a subscription.
    subscription_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    # The subscription key that started the job (it may read and cancel only those).
    subscription_key_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey(
            "subscription_keys.id", ondelete="SET NULL", name="fk_jobs_subscription_key_id"
        )
    )
    platform: Mapped[str] = mapped_column(sa.String(50))
    device_id: Mapped[str | None] = mapped_column(sa.String(50))
    run_mode: Mapped[JobRunMode] = mapped_column(
        enum_column(JobRunMode), default=JobRunMode.BLOCKING
    )
    scaling_config: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    platform_job_id: Mapped[str | None] = mapped_column(sa.String(100))
    status: Mapped[JobStatus] = mapped_column(
        enum_column(JobStatus), default=JobStatus.PROVISIONING
    )
    results_storage_path: Mapped[str | None] = mapped_column(sa.String(255))
    notification_email: Mapped[str | None] = mapped_column(sa.String(100))
    # Where the worker POSTs the job's final state (portal/webhooks, docs/webhooks.md).
    webhook_url: Mapped[str | None] = mapped_column(sa.String(2000))
    tags: Mapped[list[str] | None] = mapped_column(StringArray)
    estimated_cost: Mapped[Decimal | None] = mapped_column(Money)
    actual_cost: Mapped[Decimal | None] = mapped_column(Money)
    # Beyond the seed: who submitted it, what it runs, on which catalogue entry, and when
    # each state was entered (the reconciler and the job page need these).
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    hardware_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("hardware.id", ondelete="SET NULL")
    )
    app_version_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("app_versions.id", ondelete="SET NULL")
    )
    name: Mapped[str | None] = mapped_column(sa.String(100))
    program_format: Mapped[str | None] = mapped_column(sa.String(10))
    program_source: Mapped[str | None] = mapped_column(sa.Text)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    shots: Mapped[int] = mapped_column(default=1024)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_reason: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    # Primitive jobs and reproducible runs (portal/execution/primitives.py, migration 0009):
    # "sampler" | "estimator" with its normalised PUBs, per-shot memory, the simulator seed
    # and the device's noise-model version the run used.
    primitive: Mapped[str | None] = mapped_column(sa.String(20))
    pubs: Mapped[list[Any] | None] = mapped_column(JSONType)
    memory: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    seed_simulator: Mapped[int | None] = mapped_column(sa.BigInteger)
    noise_model_version: Mapped[str | None] = mapped_column(sa.String(64))

    hardware = relationship("Hardware")
    user = relationship("User")
    app_version = relationship("AppVersion")
    result: Mapped[JobResult | None] = relationship(
        back_populates="job", uselist=False, cascade="all, delete-orphan"
    )


class JobResult(Timestamped, db.Model):
    __tablename__ = "job_results"

    job_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("jobs.id", ondelete="CASCADE"), unique=True
    )
    error: Mapped[str | None] = mapped_column(sa.Text)
    counts: Mapped[dict[str, int] | None] = mapped_column(JSONType)
    status: Mapped[str | None] = mapped_column(sa.String(50))
    execution_time: Mapped[float | None]  # seconds
    result_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    job: Mapped[Job] = relationship(back_populates="result")
