"""The RQ job function for quantum jobs: ``workers.jobs.run(job_id)``.

Under ``flask --app wsgi worker`` the app context already exists. Under a bare
``rq worker`` (with QH_* settings in the environment) an app is created once per process.
"""

from __future__ import annotations

from flask import Flask, has_app_context

_app: Flask | None = None


def _app_for_process() -> Flask:
    global _app
    if _app is None:
        from portal import create_app

        _app = create_app()
    return _app


def run(job_id: str):
    """Run one portal job to a terminal state; returns the final status name."""
    import portal.models  # noqa: F401 - every mapper, so relationships resolve
    from portal.execution.services import run_job
    from portal.extensions import db

    if has_app_context():
        try:
            status = run_job(job_id, worker=True)
        finally:
            db.session.remove()
        return status.value if status else None
    with _app_for_process().app_context():
        try:
            status = run_job(job_id, worker=True)
        finally:
            db.session.remove()
        return status.value if status else None
