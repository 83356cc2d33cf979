"""Accounts rules that need no HTTP: preferences, key fields, tokens in mail links."""

from datetime import timedelta

import pytest

from portal.accounts import services
from portal.core.db import utcnow
from portal.core.errors import ValidationFailed
from tests.factories.accounts import UserFactory


def test_preferences_for_fills_defaults_and_ignores_unknown_keys():
    assert services.preferences_for(None) == services.DEFAULT_PREFERENCES
    user = UserFactory(preferences={"timezone": "Europe/Rome", "junk": 1})
    prefs = services.preferences_for(user)
    assert prefs["timezone"] == "Europe/Rome" and "junk" not in prefs
    assert prefs["default_device"] == "aer-simulator" and prefs["default_shots"] == 1024
    prefs["email_events"].append("x")  # a copy: the defaults stay untouched
    assert "x" not in services.DEFAULT_PREFERENCES["email_events"]


def test_update_preferences_keeps_event_order_and_refuses_unknown_keys():
    user = UserFactory()
    prefs = services.update_preferences(
        user, email_events=["budget.warning", "job.completed"], default_shots="64"
    )
    assert prefs["email_events"] == ["job.completed", "budget.warning"]
    assert prefs["default_shots"] == 64
    assert services.wants_email(user, "job.completed")
    assert not services.wants_email(user, "payment.failed")
    with pytest.raises(ValidationFailed, match="Unknown preferences"):
        services.update_preferences(user, colour="blue")


@pytest.mark.parametrize("rate", ["60/minute", "1/second", "5 / hour", "1000/day"])
def test_rate_limit_formats_accepted(rate):
    assert services.check_rate_limit_text(rate) == rate.replace(" ", "")


@pytest.mark.parametrize("rate", ["60", "sixty/minute", "60/fortnight", "0/minute", "-1/second"])
def test_rate_limit_formats_refused(rate):
    with pytest.raises(ValidationFailed, match=r"60/minute|at least one"):
        services.check_rate_limit_text(rate)


def test_create_api_key_collects_every_field_problem():
    user = UserFactory()
    with pytest.raises(ValidationFailed) as caught:
        services.create_api_key(
            user, name="", scopes=["root"], expire_at=utcnow() - timedelta(days=1),
            rate_limit="fast",
        )  # fmt: skip
    assert set(caught.value.details) == {"name", "scopes", "expire_at", "rate_limit"}


def test_verification_token_is_tied_to_the_address():
    user = UserFactory(email_verified_at=None)
    token = services.verification_token(user)
    user.email = "changed@example.com"
    with pytest.raises(Exception, match="no longer valid"):
        services.verify_email(token)


def test_become_provider_is_idempotent():
    user = UserFactory()
    services.become_provider(user, accept_terms=True)
    services.become_provider(user, accept_terms=True)
    assert user.roles == ["CONSUMER", "PROVIDER"] and user.is_provider
