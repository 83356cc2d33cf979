"""The RQ job functions: quantum jobs, ``workers.jobs.run(job_id)``, and the build's
simulation check, ``workers.jobs.check(...)`` (``portal.projects.checks``).

Under ``flask --app wsgi worker`` the app context already exists. Under a bare
``rq worker`` (with QH_* settings in the environment) the WSGI entry point's app is built
once per process.
"""

from __future__ import annotations

from flask import Flask, has_app_context

import portal.models  # noqa: F401 - every mapper, so relationships resolve
from portal.core import tracing
from portal.core.extensions import db
from portal.execution import runner
from portal.projects.checks import run_check
from portal.webhooks.services import deliver

_app: Flask | None = None


def _app_for_process() -> Flask:
    global _app
    if _app is None:
        # Deferred: only a bare ``rq worker`` needs it, and it builds the whole application.
        from wsgi import app

        _app = app
    return _app


def run(job_id: str, trace: dict | None = None):
    """Run one portal job to a terminal state; returns the final status name. ``trace`` is
    the enqueuing request's trace context: the job's span continues that trace."""
    if has_app_context():
        return _traced_run(job_id, trace)
    with _app_for_process().app_context():
        return _traced_run(job_id, trace)


def check(key: str, source: str, fmt: str | None, inputs: dict | None, shots: int):
    """Simulate a build's program once (``portal.projects.checks.run_check``); the result is
    stored in Redis under ``key`` for the web process that polls it."""
    if has_app_context():
        return run_check(key, source, fmt, inputs, shots)["passed"]
    with _app_for_process().app_context():
        return run_check(key, source, fmt, inputs, shots)["passed"]


def deliver_webhook(delivery_id: str):
    """Send one pending webhook attempt (``portal.webhooks.services.deliver``)."""

    def send():
        try:
            row = deliver(delivery_id)
            return None if row is None else row.status_code
        finally:
            db.session.remove()

    if has_app_context():
        return send()
    with _app_for_process().app_context():
        return send()


def _traced_run(job_id: str, trace: dict | None):
    token = tracing.extract_context(trace) if trace else None
    try:
        with tracing.tracer().start_as_current_span("job.run", attributes={"job.id": job_id}):
            status = runner.run_job(job_id, worker=True)
        return status.value if status else None
    finally:
        db.session.remove()
        if token is not None:
            tracing.detach(token)
