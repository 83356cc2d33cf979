"""Marketplace pages: browse (and its HTMX fragment), listing, publishing, subscriptions,
keys shown once, revoking, cancelling and reviewing through forms."""

from portal.core.extensions import db
from portal.marketplace.models import MarketplaceListing, SubscriptionKey, SubscriptionStatus
from tests.factories.accounts import UserFactory
from tests.factories.apps import QuantumAppFactory, add_version
from tests.factories.marketplace import trial_with_key

HX = {"HX-Request": "true"}


def test_browse_page_and_fragment(client, listing):
    page = client.get("/marketplace/")
    assert page.status_code == 200 and listing.app.name.encode() in page.data
    fragment = client.get("/marketplace/?q=zzz", headers={**HX, "HX-Target": "results"})
    assert b"<html" not in fragment.data and b"No apps match" in fragment.data
    bad = client.get("/marketplace/?max_price=abc")
    assert bad.status_code == 200 and b"numbers" in bad.data


def test_listing_page_for_visitors_and_owner(client, login_as, listing):
    visitor = client.get(f"/marketplace/{listing.id}")
    assert visitor.status_code == 200 and b"Sign in to start the trial" in visitor.data
    assert b"OPENQASM 3.0" in visitor.data  # try-it preview
    login_as(listing.app.developer)
    owner = client.get(f"/marketplace/{listing.id}")
    assert b"Provider controls" in owner.data and b"Your own app" in owner.data
    assert client.get("/marketplace/not-a-uuid").status_code == 404


def test_publish_page(client, login_as, device):
    app = QuantumAppFactory()
    add_version(app)
    login_as(app.developer)
    db.session.commit()  # the failing form below rolls its own work back
    assert client.get(f"/marketplace/publish/{app.id}").status_code == 200
    bad = client.post(f"/marketplace/publish/{app.id}", data={"price": "x"})
    assert bad.status_code == 422 and b"must be numbers" in bad.data
    ok = client.post(
        f"/marketplace/publish/{app.id}",
        data={"price": "7.5", "currency": "EUR", "subscription_types": ["TRIAL", "MONTHLY"],
              "trial_usage_limit": "5", "trial_days": "0", "paid_usage_limit": ""},
    )  # fmt: skip
    assert ok.status_code == 302
    listing = MarketplaceListing.query.filter_by(quantum_app_id=app.id).one()
    assert (str(listing.price), listing.currency, listing.paid_usage_limit) == ("7.50", "EUR", None)
    login_as(UserFactory())
    assert client.get(f"/marketplace/publish/{app.id}").status_code == 403


def test_trial_key_revoke_cancel_by_forms(client, login_as, listing):
    user = UserFactory()
    login_as(user)
    started = client.post(f"/marketplace/{listing.id}/trial")
    assert started.status_code == 302
    sub_url = started.headers["Location"]
    assert b"3 of 3 runs" in client.get(sub_url).data
    created = client.post(sub_url + "/keys", data={"name": "ci"}, headers=HX)
    assert created.status_code == 200 and b"qhs_" in created.data and b"<html" not in created.data
    key = SubscriptionKey.query.filter_by(name="ci").one()
    assert client.get(sub_url).data.count(b"not shown again") == 0
    revoked = client.post(f"{sub_url}/keys/{key.id}/revoke", headers=HX)
    assert revoked.status_code == 200 and b"REVOKED" in revoked.data
    again = client.post(f"/marketplace/{listing.id}/trial", follow_redirects=True)
    assert b"already had a trial" in again.data
    cancelled = client.post(sub_url + "/cancel", headers=HX)
    assert cancelled.status_code == 204 and cancelled.headers["HX-Redirect"].endswith(
        sub_url.split("localhost")[-1]
    )
    assert key.subscription.status is SubscriptionStatus.CANCELLED
    listing_page = client.get("/marketplace/subscriptions")
    assert listing_page.status_code == 200 and b"CANCELLED" in listing_page.data


def test_review_form_and_delete(client, login_as, listing):
    user, _sub, _key = trial_with_key(listing)
    login_as(user)
    db.session.commit()  # the failing form below rolls its own work back
    client.post(f"/marketplace/{listing.id}/reviews", data={"rating": "5", "title": "Great"})
    db.session.expire_all()
    assert (listing.rating, listing.rating_count) == (5.0, 1)
    client.post(f"/marketplace/{listing.id}/reviews", data={"rating": "2"})
    db.session.expire_all()
    assert listing.rating == 2.0
    bad = client.post(
        f"/marketplace/{listing.id}/reviews", data={"rating": "9"}, follow_redirects=True
    )
    assert b"1 to 5" in bad.data
    client.post(f"/marketplace/{listing.id}/reviews/delete")
    db.session.expire_all()
    assert (listing.rating, listing.rating_count) == (0.0, 0)
    assert client.post(f"/marketplace/{listing.id}/reviews/delete").status_code == 404


def test_provider_status_form(client, login_as, listing):
    login_as(listing.app.developer)
    client.post(f"/marketplace/{listing.id}/status", data={"status": "PAUSED"})
    assert listing.status.name == "PAUSED"
    login_as(UserFactory(provider=True))
    assert (
        client.post(f"/marketplace/{listing.id}/status", data={"status": "ACTIVE"}).status_code
        == 403
    )


def test_empty_subscriptions_page(client, login_as):
    login_as(UserFactory())
    page = client.get("/marketplace/subscriptions")
    assert b"No subscriptions yet" in page.data


def test_run_the_app_from_the_subscription_page(client, login_as, listing):
    from portal.execution.models import Job

    user = UserFactory()
    login_as(user)
    sub_url = client.post(f"/marketplace/{listing.id}/trial").headers["Location"]
    ran = client.post(sub_url + "/run", data={"shots": "64"})
    assert ran.status_code == 302 and "/jobs/" in ran.headers["Location"]
    job = Job.query.filter_by(user_id=user.id).one()
    assert job.subscription_id is not None and job.shots == 64
    assert b"2 of 3 runs" in client.get(sub_url).data
    client.post(sub_url + "/cancel")
    refused = client.post(sub_url + "/run", follow_redirects=True)
    assert b"cancelled" in refused.data.lower()
    assert Job.query.filter_by(user_id=user.id).count() == 1  # nothing spent, nothing queued
