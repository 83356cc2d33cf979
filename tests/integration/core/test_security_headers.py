import pytest

from portal import create_app
from tests.conftest import make_config


@pytest.mark.parametrize("path", ["/", "/api/v1/", "/api/v1/docs", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in headers  # plain HTTP in development


def test_hsts_behind_tls(client):
    response = client.get("/", base_url="https://portal.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_stripe_checkout_may_receive_form_redirects_only_when_configured(own_database):
    application = create_app(
        make_config(STRIPE_SECRET_KEY="sk_test_x", STRIPE_WEBHOOK_SECRET="whsec_x")
    )
    with application.app_context():
        csp = application.test_client().get("/healthz").headers["Content-Security-Policy"]
    assert "form-action 'self' https://checkout.stripe.com" in csp
