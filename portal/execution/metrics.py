"""Queue and job metrics for Prometheus, read at scrape time from PostgreSQL and Redis.

Workers are separate processes, so instead of per-process counters the web process reports
what the system of record says: jobs by state, stuck jobs, queue depth and recent job
durations. One scrape costs three small indexed queries.
"""

from __future__ import annotations

from contextlib import nullcontext
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, has_app_context
from prometheus_client.core import GaugeMetricFamily

from portal.core import queue, uow
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.ops import REGISTRY
from portal.execution.models import Job, JobStatus

# A job QUEUED or RUNNING longer than this is reported as stuck (the reconciler acts on it).
STUCK_AFTER = timedelta(minutes=10)
DURATION_WINDOW = timedelta(minutes=15)


class JobCollector:
    def __init__(self, app: Flask):
        self.app = app

    def describe(self):
        """Names only, so registering the collector runs no query inside ``create_app``."""
        return [
            GaugeMetricFamily("qh_jobs", "Jobs by state", labels=["status"]),
            GaugeMetricFamily("qh_jobs_stuck", "Jobs queued or running for too long"),
            GaugeMetricFamily("qh_queue_depth", "Jobs waiting in the Redis queue"),
            GaugeMetricFamily(
                "qh_job_duration_seconds_recent", "Run time of recent jobs", labels=["quantile"]
            ),
        ]

    def collect(self):
        by_state = GaugeMetricFamily("qh_jobs", "Jobs by state", labels=["status"])
        stuck = GaugeMetricFamily("qh_jobs_stuck", "Jobs queued or running for too long")
        depth = GaugeMetricFamily("qh_queue_depth", "Jobs waiting in the Redis queue")
        duration = GaugeMetricFamily(
            "qh_job_duration_seconds_recent",
            "Run time of jobs finished in the last 15 minutes",
            labels=["quantile"],
        )
        # /metrics scrapes run inside the request's app context; anything else gets one.
        with nullcontext() if has_app_context() else self.app.app_context():
            try:
                now = utcnow()
                counts = dict(
                    db.session.execute(
                        sa.select(Job.status, sa.func.count()).group_by(Job.status)
                    ).all()
                )
                for status in JobStatus:
                    by_state.add_metric([status.value], counts.get(status, 0))
                stuck.add_metric(
                    [],
                    db.session.execute(
                        sa.select(sa.func.count())
                        .select_from(Job)
                        .where(
                            Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
                            Job.updated_at < now - STUCK_AFTER,
                        )
                    ).scalar_one(),
                )
                rows = db.session.execute(
                    sa.select(Job.started_at, Job.finished_at).where(
                        Job.status == JobStatus.COMPLETED,
                        Job.finished_at >= now - DURATION_WINDOW,
                        Job.started_at.is_not(None),
                    )
                ).all()
                seconds = sorted((f - s).total_seconds() for s, f in rows)
                for q in (0.5, 0.95, 0.99):
                    value = seconds[min(len(seconds) - 1, int(q * len(seconds)))] if seconds else 0
                    duration.add_metric([str(q)], value)
                depth.add_metric([], queue.job_queue().count)
            except Exception:  # a scrape must never fail the whole /metrics page
                uow.rollback()
                return
        yield from (by_state, stuck, depth, duration)


def init_app(app: Flask) -> None:
    collector = JobCollector(app)
    # Tests create many apps in one process; keep one collector (the latest app's).
    previous = getattr(REGISTRY, "_qh_job_collector", None)
    if previous is not None:
        REGISTRY.unregister(previous)
    REGISTRY.register(collector)
    REGISTRY._qh_job_collector = collector
