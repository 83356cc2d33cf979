"""Payment events: the signed Stripe webhook and the one place every event is applied.

``process_event`` records the event id in ``payment_events`` first (``INSERT ... ON CONFLICT
DO NOTHING``): a replayed or concurrently redelivered event finds its id taken and has no
second effect. Then it calls the handler registered for the event type in ``HANDLERS`` —
a plain dict, so other domains (billing invoices) add their handlers there. The local test
provider's "Pay (test)" button goes through the same function.

The endpoint answers fast: it verifies, applies a few row updates and commits; nothing
slow (mail, provider calls) happens inside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from flask import request
from flask_smorest import Blueprint
from sqlalchemy.dialects.postgresql import insert

from portal.billing import services as billing_services
from portal.billing.models import PaymentEvent
from portal.core.apidocs import accepts
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.core.ops import WEBHOOK_EVENTS
from portal.core.payments import BadSignature, provider
from portal.marketplace import payments as marketplace_payments

log = structlog.get_logger("portal.webhooks")

Handler = Callable[[dict[str, Any], datetime], None]

# Event type → handler(data.object, event created time). Unknown types are recorded, ignored.
HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": marketplace_payments.on_checkout_completed,
    "invoice.paid": marketplace_payments.on_invoice_paid,
    "invoice.payment_failed": marketplace_payments.on_invoice_payment_failed,
    "customer.subscription.updated": marketplace_payments.on_subscription_updated,
    "customer.subscription.deleted": marketplace_payments.on_subscription_deleted,
}
# Bill invoices (metadata.bill_id) go to billing; every other invoice stays the marketplace's.
for _type, _bill_handler in (
    ("invoice.paid", billing_services.on_invoice_paid),
    ("invoice.payment_failed", billing_services.on_invoice_payment_failed),
):
    HANDLERS[_type] = billing_services.for_bills(_bill_handler, HANDLERS[_type])

blp = Blueprint(
    "payments_api",
    __name__,
    url_prefix="/payments",
    description="Payment-provider webhooks (signed; no sign-in)",
)


def _record(event_id: str, event_type: str, provider_name: str) -> bool:
    """Claim the event id; False when it was already processed (a replay)."""
    now = utcnow()
    claimed = db.session.execute(
        insert(PaymentEvent)
        .values(
            id=uuid.uuid4(),
            event_id=event_id[:255],
            event_type=event_type[:100],
            provider=provider_name,
            processed_at=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(PaymentEvent.id)
    ).first()
    return claimed is not None


def process_event(event: dict[str, Any], provider_name: str = "stripe") -> bool:
    """Apply ``event`` once (flush, no commit). Returns False for a replay."""
    event_id, event_type = str(event.get("id") or ""), str(event.get("type") or "")
    if not event_id or not event_type:
        raise BadSignature("The event has no id or type.")
    if not _record(event_id, event_type, provider_name):
        log.info("payment event replayed; ignored", event_id=event_id, type=event_type)
        return False
    handler = HANDLERS.get(event_type)
    if handler is not None:
        created = datetime.fromtimestamp(int(event.get("created") or 0), UTC)
        handler((event.get("data") or {}).get("object") or {}, created)
    log.info("payment event applied", event_id=event_id, type=event_type, handled=bool(handler))
    return True


@blp.route("/stripe/webhook", methods=["POST"])
@accepts("application/json", "text/plain")
@blp.response(200, description="The event was applied, or was a replay (no second effect)")
@blp.alt_response(400, description="Bad or stale signature")
@blp.alt_response(404, description="Stripe is not configured (local test provider in use)")
def stripe_webhook():
    """Stripe webhook: verifies the Stripe-Signature (HMAC-SHA256, 5-minute tolerance)"""
    payload = request.get_data(cache=True)
    try:
        event = provider().verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except BadSignature:
        WEBHOOK_EVENTS.labels("stripe", "unverified", "error").inc()
        raise
    event_type = str(event.get("type") or "unknown")
    try:
        applied = process_event(event, "stripe")
    except Exception:
        WEBHOOK_EVENTS.labels("stripe", event_type, "error").inc()
        raise
    WEBHOOK_EVENTS.labels("stripe", event_type, "applied" if applied else "replay").inc()
    return {"received": True, "duplicate": not applied}
