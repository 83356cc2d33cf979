"""Reading jobs: one job as its viewer may see it, the filtered job list and its filter
choices, and a finished job's result as a document, rows and CSV.

Who may see what is ``policy``; nothing here writes.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import defer, joinedload

from portal.apps.models import AppVersion, QuantumApp
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.core.paging import Page, paginate
from portal.execution import policy
from portal.execution.models import Job, JobStatus
from portal.execution.primitives import result_fields


@functools.cache
def _job_by_id(with_result: bool):
    """Built once, on first use (the mappers are complete by then), so SQLAlchemy reuses its
    cache key: every job page and status poll runs it."""
    statement = sa.select(Job).where(Job.id == sa.bindparam("id"))
    return statement.options(joinedload(Job.result)) if with_result else statement


def get_job(user, job_id: str | uuid.UUID, *, with_result: bool = False) -> Job:
    """The job if ``user`` (a User or an Actor) may see it (``policy.may_see_job``); another
    user's job, a job a subscription key did not start, or a malformed id is NotFound (no
    existence leak). ``with_result`` joins its result into the same query (pages)."""
    try:
        key = uuid.UUID(str(job_id))
    except ValueError:
        raise NotFound("No such job.") from None
    job = db.session.execute(_job_by_id(with_result), {"id": key}).unique().scalar()
    if job is None or not policy.may_see_job(user, job):
        raise NotFound("No such job.", details={"job_id": str(job_id)})
    return job


def list_jobs(
    user,
    *,
    status: JobStatus | None = None,
    device: str | None = None,
    tag: str | None = None,
    app_id: uuid.UUID | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    q: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """The jobs ``user`` may list, newest first, filtered: state, device, tag, app (any of
    its versions), submitted in [date_from, date_to), and ``q`` (a part of the name or tag,
    or the job's id)."""
    query = db.select(Job).where(policy.job_filter(user))
    if status is not None:
        query = query.where(Job.status == status)
    if device:
        query = query.where(Job.device_id == device)
    if tag:
        query = query.where(Job.tags.any(tag))
    if app_id is not None:
        versions = sa.select(AppVersion.id).where(AppVersion.quantum_app_id == app_id)
        query = query.where(Job.app_version_id.in_(versions))
    if date_from is not None:
        query = query.where(Job.created_at >= date_from)
    if date_to is not None:
        query = query.where(Job.created_at < date_to)
    if q and q.strip():
        text = q.strip()[:100]
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = [
            Job.name.ilike(pattern, escape="\\"),
            sa.func.array_to_string(Job.tags, " ").ilike(pattern, escape="\\"),
        ]
        with contextlib.suppress(ValueError):
            matches.append(Job.id == uuid.UUID(text))
        query = query.where(sa.or_(*matches))
    return paginate(
        query.order_by(Job.created_at.desc(), Job.id).options(
            defer(Job.program_source)  # lists never show the program text
        ),
        page,
        per_page,
    )


def day_range(first: Any, last: Any) -> tuple[datetime | None, datetime | None]:
    """[first day 00:00 UTC, the day after the last day 00:00 UTC) of two dates (or None)."""

    def start(day: Any) -> datetime | None:
        return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None

    end = start(last)
    return start(first), end + timedelta(days=1) if end else None


def job_tags(user) -> list[str]:
    """Every tag on the jobs ``user`` may list (the filter's choices)."""
    tag = sa.func.unnest(Job.tags)
    rows = db.session.execute(sa.select(tag).where(policy.job_filter(user)).distinct())
    return sorted(t for t in rows.scalars() if t)


def job_devices(user) -> list[str]:
    """The devices ``user``'s jobs ran on (the filter's choices)."""
    rows = db.session.execute(
        sa.select(Job.device_id).where(policy.job_filter(user)).distinct()
    ).scalars()
    return sorted(d for d in rows if d)


def job_apps(user) -> list[tuple[uuid.UUID, str]]:
    """(app id, name) of the apps ``user``'s jobs ran (the filter's choices)."""
    rows = db.session.execute(
        sa.select(QuantumApp.id, QuantumApp.name)
        .join(AppVersion, AppVersion.quantum_app_id == QuantumApp.id)
        .join(Job, Job.app_version_id == AppVersion.id)
        .where(policy.job_filter(user))
        .distinct()
    ).all()
    return sorted(((r.id, r.name) for r in rows), key=lambda r: r[1].lower())


def app_label(job: Job) -> str | None:
    """ "app X, version Y" for a job of an app version (what others see instead of the
    program), None for a plain circuit."""
    if job.app_version_id is None or job.app_version is None:
        return None
    version = job.app_version
    return f"app {version.app.name}, version {version.version_number}"


def result_document(job: Job) -> dict[str, Any]:
    """The raw result as stored: what the result endpoint and the download return."""
    result = job.result
    if result is None:
        return {}
    data = dict(result.result_data or {})
    extra = result_fields(job, data)  # primitive results, memory, seed: out of metadata
    return {
        **extra,
        "job_id": str(job.id),
        "status": job.status.value,
        "device": job.device_id,
        "shots": job.shots,
        "counts": result.counts or {},
        "execution_time": result.execution_time,
        "transpiled_depth": (data.get("transpiled") or {}).get("depth"),
        "transpiled_size": (data.get("transpiled") or {}).get("size"),
        "metadata": data,
        "error": result.error,
    }


def outcome_rows(job: Job) -> list[tuple[str, int, float]]:
    """(outcome, count, probability) of a finished job, most frequent first."""
    counts = (job.result.counts if job.result else None) or {}
    total = sum(counts.values()) or 1
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [(outcome, int(count), count / total) for outcome, count in rows]


def result_csv(job: Job) -> str:
    """The counts as CSV: outcome, count, probability (what spreadsheets and pandas read)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["outcome", "count", "probability"])
    for outcome, count, probability in outcome_rows(job):
        writer.writerow([outcome, count, f"{probability:.6f}"])
    return out.getvalue()
