"""Who may do what to jobs; the only place that decides (services, pages, API routes and
the worker steps call it).

- submit a job of an app version: ``portal.apps.policy.may_run_version`` (developer; a
  published version of a public Registry app; an active subscription); refused as 404, the
  answer a private app gives anyone else;
- see, read the result of, tag and cancel a job: its owner; a subscription key only the jobs it
  started (another job of its owner is 404, as if it did not exist);
- see a job's program source: the job's owner for their own circuits; for a job of an app
  version, only the app's developer -- anyone else sees "app X, version Y".
"""

from __future__ import annotations

from typing import Any

from portal.apps import policy as apps_policy
from portal.core.errors import NotFound
from portal.execution.models import Job


def _user_and_key(actor: Any) -> tuple[Any, Any]:
    """An Actor or a plain User (pages and workers pass the user)."""
    if hasattr(actor, "kind") and hasattr(actor, "user"):
        return actor.user, actor.subscription_key
    return actor, None


def check_can_run(user: Any, version: Any, subscription: Any = None) -> None:
    if version is None:
        return
    if not apps_policy.may_run_version(user, version, subscription):
        raise NotFound("No such app version.", details={"app_version_id": "unknown"})


def may_see_job(actor: Any, job: Any) -> bool:
    user, key = _user_and_key(actor)
    if user is None or job.user_id != user.id:
        return False
    return key is None or job.subscription_key_id == key.id


may_cancel_job = may_see_job
may_tag_job = may_see_job  # tags are the owner's labels (a subscription key: its own jobs)


def may_see_program(actor: Any, job: Any) -> bool:
    user, _key = _user_and_key(actor)
    if user is None or job.user_id != user.id:
        return False
    version = job.app_version if job.app_version_id else None
    return version is None or apps_policy.may_read_source(user, version)


def job_filter(actor: Any):
    """The SQL condition of the jobs ``actor`` may list."""
    user, key = _user_and_key(actor)
    condition = Job.user_id == user.id
    if key is not None:
        condition = condition & (Job.subscription_key_id == key.id)
    return condition
