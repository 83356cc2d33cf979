"""Webhook pages: a job's deliveries (on the job page, with replay) and the signing secret
(on the API-keys page). Thin: call services, render; the request boundary commits."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from portal.accounts.auth import page_auth
from portal.core.extensions import htmx
from portal.execution.jobs import get_job
from portal.webhooks import services

bp = Blueprint("webhooks", __name__)


@bp.app_template_global()
def webhook_deliveries(job) -> list:
    """The job page's deliveries (the policy decides, in the service)."""
    return services.list_deliveries(current_user, job.id) if job.webhook_url else []


@bp.app_template_global()
def webhook_secret():
    return services.get_secret(current_user.id)


def _deliveries(job_id):
    job = get_job(current_user, job_id)
    return render_template("webhooks/_deliveries.html", job=job, deliveries=webhook_deliveries(job))


@bp.get("/jobs/<job_id>/deliveries")
@page_auth()
def deliveries(job_id):
    return _deliveries(job_id)


@bp.post("/jobs/<job_id>/deliveries/<delivery_id>/replay")
@page_auth()
def replay(job_id, delivery_id):
    services.replay(current_user, job_id, delivery_id)
    if htmx:
        return _deliveries(job_id)
    return redirect(url_for("jobs.detail", job_id=job_id))


@bp.post("/settings/webhook-secret/rotate")
@page_auth()
def rotate_secret():
    row = services.rotate_secret(current_user, current_user.id)
    if htmx:
        return render_template("webhooks/_secret.html", secret=row, rotated=True)
    return redirect(url_for("accounts.api_keys"))
