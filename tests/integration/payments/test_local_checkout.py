"""The local test-payment provider: the portal's checkout page completes the same flow."""

from portal.core.extensions import db
from portal.marketplace.models import Subscription, SubscriptionStatus
from tests.factories.marketplace import trial_with_key


def test_pay_test_button_activates_through_the_event_path(client, api_headers, login_as, listing):
    user, trial, _key = trial_with_key(listing)
    response = client.post(
        f"/api/v1/marketplace/{listing.id}/subscribe",
        json={"subscription_type": "MONTHLY"},
        headers=api_headers(user),
    )
    assert response.status_code == 201
    assert response.json["provider"] == "local"
    url = response.json["checkout_url"]
    assert "/marketplace/checkout/cs_local_" in url
    path = url.split("localhost", 1)[-1]
    login_as(user)
    page = client.get(path)
    assert page.status_code == 200 and b"Pay (test)" in page.data
    paid = client.post(path)
    assert paid.status_code == 302
    sub_id = response.json["subscription"]["id"]
    db.session.expire_all()
    sub = db.session.get(Subscription, sub_id)
    assert sub.status is SubscriptionStatus.ACTIVE and sub.remaining_usage_count == 50
    assert sub.stripe_subscription_id.startswith("sub_local_")
    assert db.session.get(Subscription, trial.id).status is SubscriptionStatus.EXPIRED
    from portal.billing.models import PaymentEvent

    assert PaymentEvent.query.filter_by(provider="local").count() == 1
    # Paying twice has no second effect.
    assert client.post(path).status_code == 302
    assert PaymentEvent.query.filter_by(provider="local").count() == 1


def test_someone_elses_checkout_is_not_found(client, api_headers, login_as, listing):
    from tests.factories.accounts import UserFactory

    owner = UserFactory()
    response = client.post(
        f"/api/v1/marketplace/{listing.id}/subscribe",
        json={"subscription_type": "ANNUAL"},
        headers=api_headers(owner),
    )
    path = "/marketplace/checkout/" + response.json["checkout_session_id"]
    login_as(UserFactory())
    assert client.get(path).status_code == 404
