"""What the job status poll and the job rows poll show, reduced to a cheap version for
their ETags (``portal.core.conditional``): a poll whose job (or list) has not changed is
answered 304 without rendering it again."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from flask import session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from portal.core.conditional import weak_etag
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.execution import policy
from portal.execution.jobs import job_apps
from portal.execution.models import Job, JobStatus
from portal.notifications.services import unread_count


def _viewer() -> tuple:
    """Who looks, and what of theirs a fragment shows: their time zone (every date) and
    their session's CSRF token (in the fragments' forms)."""
    if "csrf_token" not in session:  # the fragment's form would mint it: mint it first
        generate_csrf()
    preferences = getattr(current_user, "preferences", None) or {}
    return (str(current_user.id), preferences.get("timezone"), session.get("csrf_token"))


@functools.cache
def _status_query():
    """A job's ETag inputs and its place in the queue (queued jobs queued before it, + 1,
    while it is queued; as ``queue.queue_position``) in one Core statement: no ORM object."""
    ahead = sa.orm.aliased(Job)
    position = (
        sa.select(sa.func.count() + 1)
        .select_from(ahead)
        .where(ahead.status == JobStatus.QUEUED, ahead.queued_at < Job.queued_at)
        .scalar_subquery()
    )
    return sa.select(
        Job.id, Job.user_id, Job.subscription_key_id, Job.status, Job.updated_at, Job.device_id,
        sa.case((Job.status == JobStatus.QUEUED, position), else_=None).label("position"),
    ).where(Job.id == sa.bindparam("id"))  # fmt: skip


def job_status_version(actor: Any, job_id: str) -> Any:
    """What the status poll of ``job_id`` needs for its ETag (a row: id, user_id,
    subscription_key_id, status, updated_at, device_id, position). A job ``actor`` may not
    see, or a malformed id, is NotFound, as ``jobs.get_job``."""
    try:
        key = uuid.UUID(str(job_id))
    except ValueError:
        raise NotFound("No such job.") from None
    row = db.session.execute(_status_query(), {"id": key}).one_or_none()
    if row is None or not policy.may_see_job(actor, row):
        raise NotFound("No such job.", details={"job_id": str(job_id)})
    return row


def job_status_etag(job: Any, position: int | None, wait: float | None) -> str:
    """The status fragment of ``job`` (the job or its ``job_status_version``): its row (every
    change moves ``updated_at``), its place in the queue and the wait estimate as shown
    (whole seconds)."""
    shown_wait = None if wait is None else round(wait)
    return weak_etag("job-status", _viewer(), str(job.id), job.updated_at, job.status.value,
                     position, shown_wait)  # fmt: skip


@functools.cache
def _version_query():
    return sa.select(sa.func.count(), sa.func.max(Job.updated_at))


def jobs_version(actor: Any) -> tuple[int, Any]:
    """How many jobs ``actor`` may list and when the latest of them changed: one indexed
    query. A new job, a deleted one and any change to one (status, tags, result) move it."""
    row = db.session.execute(_version_query().where(policy.job_filter(actor))).one()
    return row[0], row[1]


def job_rows_etag(actor: Any, full_path: str) -> str:
    """The job rows fragment at ``full_path`` (page and filters)."""
    return weak_etag("job-rows", _viewer(), full_path, jobs_version(actor))


def job_list_page_etag(actor: Any, full_path: str) -> tuple[str, list]:
    """The full job list page at ``full_path``: the rows' version, the app filter's choices
    (app names live outside the jobs: they are read, and handed back for the page), and the
    layout's viewer-dependent parts: the name and roles in the navigation and the unread
    notifications badge. A page with flashed messages is never conditional (the caller
    checks). Returns (etag, the app choices)."""
    apps = job_apps(actor)
    user = current_user
    parts = ("jobs-page", _viewer(), user.username, tuple(user.roles or ()), unread_count(user),
             full_path, jobs_version(actor), tuple(apps))  # fmt: skip
    return weak_etag(*parts), apps
