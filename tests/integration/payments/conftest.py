"""A local HTTP stand-in for the Stripe API (the real SDK is pointed at it) and a signer
that signs webhook payloads exactly as Stripe does."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import pytest

from tests.factories.marketplace import listed_app, simulator

WEBHOOK_SECRET = "whsec_test_secret"


class StripeStandIn(ThreadingHTTPServer):
    """Answers the few Stripe endpoints the portal calls and records every request."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        return

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        record = {
            "method": self.command,
            "path": self.path,
            "params": dict(parse_qsl(body)),
            "idempotency_key": self.headers.get("Idempotency-Key"),
            "authorization": self.headers.get("Authorization"),
        }
        self.server.requests.append(record)
        if self.path == "/v1/customers":
            payload = {"id": "cus_test_1", "object": "customer"}
        elif self.path == "/v1/checkout/sessions":
            payload = {
                "id": "cs_test_1",
                "object": "checkout.session",
                "url": "https://checkout.stripe.test/c/pay/cs_test_1",
            }
        elif self.path == "/v1/invoices":
            payload = {"id": "in_test_1", "object": "invoice", "status": "draft"}
        elif self.path == "/v1/invoiceitems":
            payload = {"id": "ii_test_1", "object": "invoiceitem"}
        elif self.path.startswith("/v1/invoices/") and self.path.endswith("/finalize"):
            payload = {"id": "in_test_1", "object": "invoice", "status": "open",
                       "hosted_invoice_url": "https://invoice.stripe.test/i/in_test_1"}  # fmt: skip
        elif self.path.startswith("/v1/subscriptions/"):
            payload = {"id": self.path.rsplit("/", 1)[1], "object": "subscription",
                       "status": "canceled"}  # fmt: skip
        else:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"type": "invalid_request_error", "message": "no"}}')
            return
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer


@pytest.fixture
def stripe_api(app, monkeypatch):
    """Stripe configured, its API base pointed at a stand-in server that records requests."""
    server = StripeStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_test_portal")
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", server.url)
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<payload>")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@pytest.fixture
def send_event(client):
    """POST a signed event to the webhook; returns the response."""
    counter = {"n": 0}

    def send(
        event_type, obj, *, event_id=None, created=None, secret=WEBHOOK_SECRET, timestamp=None
    ):
        counter["n"] += 1
        event = {
            "id": event_id or f"evt_test_{counter['n']}_{time.time_ns()}",
            "object": "event",
            "type": event_type,
            "created": created or int(time.time()),
            "data": {"object": obj},
        }
        payload = json.dumps(event)
        return client.post(
            "/api/v1/payments/stripe/webhook",
            data=payload,
            content_type="application/json",
            headers={"Stripe-Signature": sign(payload, secret, timestamp)},
        )

    return send


@pytest.fixture
def listing():
    simulator()
    return listed_app(price="19.00", paid_usage_limit=50)
