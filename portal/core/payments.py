"""The payment-provider interface: Stripe in production, a local test provider offline.

``provider()`` picks the implementation from the configuration: Stripe when both
``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET`` are set, otherwise the local test
provider. Both complete the same flow: ``start_checkout`` returns where to send the buyer;
the subscription is activated only by a ``checkout.session.completed`` event handled by
``portal.billing.webhooks.process_event`` — signed by Stripe, or built by the local
provider when the buyer presses "Pay (test)" on the portal's own checkout page.

Providers take plain values (``CheckoutRequest``), never ORM rows or the request.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

import stripe
import structlog
from flask import current_app, has_request_context, url_for

from portal.core.errors import NotFound, PortalError, ServiceUnavailable

log = structlog.get_logger("portal.payments")

# Stripe's default: events signed more than five minutes ago are refused (replay defence).
WEBHOOK_TOLERANCE_SECONDS = 300
# Currencies without a minor unit (Stripe amounts are in the smallest unit).
ZERO_DECIMAL = {"JPY", "KRW", "VND", "CLP", "ISK", "HUF"}


class BadSignature(PortalError):
    status, code = 400, "bad_signature"


@dataclass(frozen=True)
class CheckoutRequest:
    """What to charge and who pays, as plain values."""

    subscription_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    description: str
    amount: Decimal
    currency: str
    interval: str | None  # "month" / "year" for recurring plans, None for a one-off payment
    success_url: str
    cancel_url: str
    customer_id: str | None = None  # reuse the buyer's existing customer


@dataclass(frozen=True)
class CheckoutStart:
    session_id: str
    url: str
    customer_id: str


def minor_units(amount: Decimal, currency: str) -> int:
    """Decimal price → integer amount in the currency's smallest unit (cents)."""
    factor = Decimal(1) if currency.upper() in ZERO_DECIMAL else Decimal(100)
    return int((amount * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class PaymentProvider(Protocol):
    name: str

    def start_checkout(self, request: CheckoutRequest) -> CheckoutStart:
        """Create (or reuse) the customer and a checkout session; return where to go."""

    def cancel_subscription(self, provider_subscription_id: str, idempotency_key: str) -> None:
        """Cancel a recurring subscription at the provider, now."""

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event in ``payload`` if its signature and timestamp are valid, else BadSignature."""


class StripeProvider:
    """Stripe Checkout through the official SDK. ``api_base`` points the SDK elsewhere (the
    tests' local stand-in server); every write carries an idempotency key so a retried
    request never creates a second customer, session or cancellation."""

    name = "stripe"

    def __init__(self, secret_key: str, webhook_secret: str, api_base: str | None = None):
        options: dict[str, Any] = {"max_network_retries": 2}
        if api_base:
            options["base_addresses"] = {"api": api_base.rstrip("/")}
        self.client = stripe.StripeClient(secret_key, **options)
        self.webhook_secret = webhook_secret

    def start_checkout(self, request: CheckoutRequest) -> CheckoutStart:
        metadata = {"subscription_id": str(request.subscription_id)}
        try:
            customer_id = request.customer_id
            if not customer_id:
                customer = self.client.v1.customers.create(
                    params={
                        "email": request.email,
                        "name": request.name,
                        "metadata": {"user_id": str(request.user_id)},
                    },
                    options={"idempotency_key": f"qh-customer-{request.user_id}"},
                )
                customer_id = customer.id
            price_data: dict[str, Any] = {
                "currency": request.currency.lower(),
                "unit_amount": minor_units(request.amount, request.currency),
                "product_data": {"name": request.description[:250]},
            }
            params: dict[str, Any] = {
                "customer": customer_id,
                "client_reference_id": str(request.subscription_id),
                "success_url": request.success_url,
                "cancel_url": request.cancel_url,
                "metadata": metadata,
                "line_items": [{"quantity": 1, "price_data": price_data}],
            }
            if request.interval:
                price_data["recurring"] = {"interval": request.interval}
                params["mode"] = "subscription"
                # Copied onto the Stripe subscription and its invoices: webhooks find the
                # row even when an invoice event arrives before the session event.
                params["subscription_data"] = {"metadata": metadata}
            else:
                params["mode"] = "payment"
                params["payment_intent_data"] = {"metadata": metadata}
            session = self.client.v1.checkout.sessions.create(
                params=params,
                options={"idempotency_key": f"qh-checkout-{request.subscription_id}"},
            )
        except stripe.StripeError as exc:
            log.warning("stripe checkout failed", error=str(exc))
            raise ServiceUnavailable(
                "The payment provider did not answer; please try again in a moment.",
                details={"provider": "stripe"},
            ) from exc
        return CheckoutStart(session.id, session.url, customer_id)

    def cancel_subscription(self, provider_subscription_id: str, idempotency_key: str) -> None:
        try:
            self.client.v1.subscriptions.cancel(
                provider_subscription_id, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as exc:
            # Already cancelled at Stripe (e.g. from its dashboard): nothing left to do.
            log.info("stripe subscription already gone", error=str(exc))
        except stripe.StripeError as exc:
            raise ServiceUnavailable(
                "The payment provider did not answer; the subscription is not cancelled yet. "
                "Please try again in a moment."
            ) from exc

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        try:
            stripe.Webhook.construct_event(
                payload, signature or "", self.webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as exc:
            raise BadSignature(
                f"The Stripe-Signature header does not verify: {exc.user_message or exc}"
            ) from None
        except ValueError:
            raise BadSignature("The webhook body is not a Stripe event.") from None
        return json.loads(payload)


class LocalTestProvider:
    """Offline payments: the checkout is a page of the portal with a "Pay (test)" button
    that builds the same ``checkout.session.completed`` event Stripe would send."""

    name = "local"

    def start_checkout(self, request: CheckoutRequest) -> CheckoutStart:
        session_id = f"cs_local_{secrets.token_hex(12)}"
        customer_id = request.customer_id or f"cus_local_{request.user_id.hex[:16]}"
        url = f"/marketplace/checkout/{session_id}"
        if has_request_context():
            url = url_for("marketplace.checkout", session_id=session_id)
        return CheckoutStart(session_id, url, customer_id)

    def cancel_subscription(self, provider_subscription_id: str, idempotency_key: str) -> None:
        return None  # nothing is held anywhere else

    def verify_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        raise NotFound(
            "Stripe webhooks are not configured here: set QH_STRIPE_SECRET_KEY and "
            "QH_STRIPE_WEBHOOK_SECRET."
        )

    @staticmethod
    def checkout_completed_event(
        *,
        session_id: str,
        subscription_id: uuid.UUID,
        customer_id: str | None,
        recurring: bool,
    ) -> dict[str, Any]:
        """The event Stripe would send once the buyer paid, in Stripe's shape."""
        return {
            "id": f"evt_local_{secrets.token_hex(12)}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": session_id,
                    "object": "checkout.session",
                    "mode": "subscription" if recurring else "payment",
                    "payment_status": "paid",
                    "status": "complete",
                    "customer": customer_id,
                    "subscription": f"sub_local_{subscription_id.hex[:20]}" if recurring else None,
                    "client_reference_id": str(subscription_id),
                    "metadata": {"subscription_id": str(subscription_id)},
                }
            },
        }


def provider() -> PaymentProvider:
    """The configured provider: Stripe with both keys set, else the local test provider."""
    config = current_app.config
    if config.get("STRIPE_SECRET_KEY") and config.get("STRIPE_WEBHOOK_SECRET"):
        return StripeProvider(
            config["STRIPE_SECRET_KEY"],
            config["STRIPE_WEBHOOK_SECRET"],
            config.get("STRIPE_API_BASE"),
        )
    return LocalTestProvider()


# Who applies a provider's events: billing (``portal.billing.webhooks.process_event``)
# registers at app creation, so the local checkout page hands its event there as Stripe's
# signed webhook would, without the page's domain knowing billing.
EVENT_HANDLERS: list[Callable[[dict[str, Any], str], Any]] = []


def register_event_handler(handler: Callable[[dict[str, Any], str], Any]) -> None:
    if handler not in EVENT_HANDLERS:
        EVENT_HANDLERS.append(handler)


def apply_local_event(event: dict[str, Any]) -> None:
    """Apply an event of the local test provider (its "Pay (test)" button)."""
    for handler in EVENT_HANDLERS:
        handler(event, "local")
