"""The receivers of the signals that carry effects across domains, connected once at app
creation (``connect``): a lower domain announces what happened (``portal.execution.events``,
``portal.apps.events``), the domains above it react, and the sender never imports them.

Every receiver runs synchronously in the sender's transaction (docs/architecture.md).
"""

from __future__ import annotations

from portal.accounts import services as accounts
from portal.analytics import counters
from portal.analytics import services as analytics
from portal.analytics.usage import usage_write
from portal.apps import events as app_events
from portal.billing import services as billing
from portal.billing.webhooks import process_event
from portal.core import payments
from portal.execution import api as jobs_api
from portal.execution import catalogue
from portal.execution import events as job_events
from portal.marketplace import keys as subscription_keys
from portal.marketplace import reviews, runs
from portal.notifications.models import NotificationType
from portal.notifications.services import notification_write, notify
from portal.webhooks import services as webhooks


def _check_budget(user, *, estimate, **_) -> None:
    billing.check_budget(user, estimate)  # 402 past the monthly budget


def _ensure_webhook_secret(job, **_) -> None:
    if job.webhook_url:
        webhooks.ensure_secret(job.user_id)


def _first_webhook_delivery(job, *, writes=None, **_) -> None:
    if writes is None:
        webhooks.job_finished(job)
    elif job.webhook_url:  # a worker's completion: in the same statement as the job
        writes.append(webhooks.first_delivery_write(job))


def _notify_completed(job, *, hardware, writes, **_) -> None:
    writes.append(  # written in the same statement as the job and its result
        notification_write(
            job.owner,
            "Job completed",
            f"{job.name} finished on {hardware.name} ({job.shots} shots).",
            type=NotificationType.JOB,
            link=f"/jobs/{job.id}",
        )
    )


def _notify_failed(job, *, reason, **_) -> None:
    notify(
        job.user_id,
        "Job failed",
        f"{job.name or 'Your job'} failed: {reason}",
        type=NotificationType.JOB,
        link=f"/jobs/{job.id}",
    )


def _count_usage(job, *, endpoint, quantum_app_id, compute_seconds, writes, **_) -> None:
    writes.append(  # in the same statement as the job
        usage_write(
            job.user_id, endpoint, quantum_app_id=quantum_app_id, compute_seconds=compute_seconds
        )
    )


def _count_view(app_id, **_) -> None:
    counters.count_view(app_id)


RECEIVERS = (
    (job_events.job_submitting, _check_budget),
    (job_events.job_queued, _ensure_webhook_secret),
    (job_events.job_finished, _first_webhook_delivery),
    (job_events.job_completed, _notify_completed),
    (job_events.job_failed, _notify_failed),
    (job_events.usage_counted, _count_usage),
    (app_events.app_viewed, _count_view),
)


def connect() -> None:
    """Connect every receiver (idempotent: the tests build many apps in one process)."""
    for signal, receiver in RECEIVERS:
        signal.connect(receiver)
    subscription_keys.register()
    accounts.register_devices(catalogue.device_names)
    payments.register_event_handler(process_event)
    jobs_api.register_key_submitter(runs.run_from_api)
    reviews.register_download_record(analytics.downloaded)
