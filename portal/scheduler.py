"""The periodic work, in one place: the worker's background thread runs ``tick`` every few
seconds (``flask worker --reconcile-every``), ``flask reconcile`` runs one pass by hand.

Each task runs in its own app context and its own transaction; a failing task is logged
and retried at the next tick, and never stops the others or the worker.
"""

from __future__ import annotations

import threading

import structlog
from flask import Flask

from portal.analytics import counters
from portal.billing import services as billing
from portal.execution import reconciler
from portal.webhooks import services as webhooks

log = structlog.get_logger("portal.execution.worker")


def _guarded(app: Flask, work, failure: str, default=None):
    """``work()`` in its own app context; a failure is logged and retried at the next tick."""
    with app.app_context():
        try:
            return work()
        except Exception:  # Redis or PostgreSQL down, a bug: the next tick tries again
            log.exception(failure)
            return default


def reconcile_once(app: Flask) -> dict:
    """Re-enqueue QUEUED jobs the queue lost; fail RUNNING jobs whose worker died."""
    return _guarded(app, lambda: reconciler.reconcile().as_dict(), "reconcile failed", {})


def close_billing_period(app: Flask) -> None:
    """Close last month's bills once the month is over (idempotent, cheap once done)."""
    _guarded(app, billing.scheduled_close, "closing the billing period failed")


def flush_counters(app: Flask) -> None:
    """Buffered view and API-request counts reach the database in quiet periods too."""
    _guarded(app, counters.flush, "flushing counters failed")


def deliver_webhooks(app: Flask) -> None:
    """Webhook attempts that are due: retries, and first attempts whose RQ job was lost."""
    _guarded(app, webhooks.deliver_due, "delivering webhooks failed")


def tick(app: Flask) -> None:
    """One pass of every periodic task."""
    report = reconcile_once(app)
    if any(report.values()):
        log.info("reconciled", **report)
    close_billing_period(app)
    flush_counters(app)
    deliver_webhooks(app)


def run(app: Flask, interval: float, stop: threading.Event) -> None:
    """``tick`` every ``interval`` seconds until ``stop`` is set (the worker's thread)."""
    while not stop.wait(interval):
        try:
            tick(app)
        except Exception:  # never let an outage end the loop: the next tick tries again
            log.exception("reconciler tick failed")
