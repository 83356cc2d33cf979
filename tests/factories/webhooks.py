"""Factories for webhooks: a delivery attempt of a job."""

from portal.core.db import utcnow
from portal.core.extensions import db
from portal.webhooks.models import WebhookDelivery


def webhook_delivery(job, *, attempt: int = 1, status_code: int | None = 500, **fields):
    """An attempted (by default failed) delivery of ``job``, flushed."""
    row = WebhookDelivery(
        job_id=job.id,
        attempt=attempt,
        event=f"job.{job.status.value.lower()}",
        url=job.webhook_url or "http://127.0.0.1:9/hook",
        attempted_at=utcnow(),
        status_code=status_code,
        response_excerpt="boom" if status_code and status_code >= 400 else "ok",
        **fields,
    )
    db.session.add(row)
    db.session.flush()
    return row
