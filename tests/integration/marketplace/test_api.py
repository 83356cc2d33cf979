"""Marketplace API: publishing, browsing, trials, keys, running apps, cancelling, ownership."""

from datetime import timedelta

import pytest

from portal.apps.models import AppVisibility
from portal.core.db import utcnow
from portal.core.security import hash_token
from portal.execution.models import Job
from portal.marketplace.models import (
    MarketplaceListingStatus,
    Subscription,
    SubscriptionKey,
    SubscriptionStatus,
)
from tests.factories.accounts import UserFactory
from tests.factories.apps import QuantumAppFactory, add_version
from tests.factories.marketplace import ROTATION, listed_app, paid_subscription, trial_with_key


def _trial(client, listing, headers):
    response = client.post(f"/api/v1/marketplace/{listing.id}/trial", headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def _key(client, sub_id, headers, **body):
    response = client.post(f"/api/v1/subscriptions/{sub_id}/keys", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_publish_marketplace_by_the_provider(client, api_headers, device):
    app = QuantumAppFactory()
    add_version(app)
    body = {"price": "12.50", "subscription_types": ["TRIAL", "ANNUAL"], "trial_usage_limit": 5}
    response = client.post(
        f"/api/v1/quantum-apps/{app.id}/publish-marketplace",
        json=body,
        headers=api_headers(app.developer),
    )
    assert response.status_code == 200, response.json
    listing = response.json
    assert listing["price"] == "12.50"
    assert listing["annual_price"] == "125.00"
    assert listing["subscription_types"] == ["ANNUAL", "TRIAL"]
    assert listing["preview"]["program"].startswith("OPENQASM 3.0")
    # Someone else may see the app but not sell it.
    other = client.post(
        f"/api/v1/quantum-apps/{app.id}/publish-marketplace", json=body,
        headers=api_headers(UserFactory(provider=True)),
    )  # fmt: skip
    assert other.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": "5", "subscription_types": ["TRIAL"]}, "subscription_types"),
        ({"price": "0", "subscription_types": ["MONTHLY"]}, "price"),
        ({"price": "5", "subscription_types": ["WEEKLY"]}, "subscription_types"),
        ({"price": "5", "trial_usage_limit": 0, "trial_days": 0}, "trial_usage_limit"),
    ],
)
def test_publish_refuses_bad_plans(client, api_headers, body, field):
    app = QuantumAppFactory()
    add_version(app)
    response = client.post(
        f"/api/v1/quantum-apps/{app.id}/publish-marketplace",
        json=body,
        headers=api_headers(app.developer),
    )
    assert response.status_code == 422
    assert field in str(response.json["error"]["details"])


def test_publish_needs_a_runnable_version_and_a_visible_app(client, api_headers):
    app = QuantumAppFactory()
    headers = api_headers(app.developer)
    url = f"/api/v1/quantum-apps/{app.id}/publish-marketplace"
    assert client.post(url, json={"price": "5"}, headers=headers).status_code == 409
    private = QuantumAppFactory(visibility=AppVisibility.PRIVATE)
    add_version(private)
    response = client.post(
        f"/api/v1/quantum-apps/{private.id}/publish-marketplace",
        json={"price": "5"},
        headers=api_headers(private.developer),
    )
    assert response.status_code == 422
    assert "private" in response.json["error"]["message"].lower()


def test_browse_searches_filters_sorts_and_pages(client, device):
    cheap = listed_app(name="Grover Search", price="5.00")
    pricey = listed_app(name="Shor Factoring", price="50.00", types=("MONTHLY",))
    listed_app(name="Hidden", visibility=AppVisibility.UNLISTED)
    cheap.rating, pricey.rating = 4.0, 2.0

    def names(**query):
        response = client.get("/api/v1/marketplace", query_string=query)
        assert response.status_code == 200, response.json
        return [item["name"] for item in response.json["items"]]

    assert names(sort="price") == ["Grover Search", "Shor Factoring"]
    assert names(sort="price_desc") == ["Shor Factoring", "Grover Search"]
    assert names(sort="rating") == ["Grover Search", "Shor Factoring"]
    assert names(q="shor") == ["Shor Factoring"]
    assert names(offers="TRIAL") == ["Grover Search"]
    assert names(max_price="10") == ["Grover Search"]
    assert names(min_rating="3") == ["Grover Search"]
    paged = client.get("/api/v1/marketplace", query_string={"per_page": 1, "page": 2}).json
    assert paged["total"] == 2 and len(paged["items"]) == 1 and paged["pages"] == 2
    assert client.get("/api/v1/marketplace?sort=bogus").status_code == 422
    assert client.get("/api/v1/marketplace?per_page=1000").status_code == 422


def test_popularity_follows_active_subscriptions(client, device):
    quiet = listed_app(name="Quiet")
    busy = listed_app(name="Busy")
    for _ in range(2):
        trial_with_key(busy)
    trial_with_key(quiet)
    names = [i["name"] for i in client.get("/api/v1/marketplace?sort=popularity").json["items"]]
    assert names == ["Busy", "Quiet"]
    detail = client.get(f"/api/v1/marketplace/{busy.id}").json
    assert detail["number_of_subscriptions"] == 2


def test_pause_and_delist(client, api_headers, listing):
    owner = api_headers(listing.app.developer)
    consumer = UserFactory()
    url = f"/api/v1/marketplace/{listing.id}"
    assert (
        client.put(url, json={"status": "PAUSED"}, headers=api_headers(consumer)).status_code == 403
    )
    assert client.put(url, json={"status": "PAUSED"}, headers=owner).json["status"] == "PAUSED"
    refused = client.post(f"{url}/trial", headers=api_headers(consumer))
    assert refused.status_code == 409 and "paused" in refused.json["error"]["message"]
    assert client.put(url, json={"status": "DELISTED"}, headers=owner).status_code == 200
    assert client.get(url).status_code == 404
    assert client.get(url, headers=owner).status_code == 200
    assert client.get("/api/v1/marketplace").json["total"] == 0


def test_trial_key_runs_the_app_and_counts_down(client, api_headers, listing):
    user = UserFactory()
    headers = api_headers(user)
    sub = _trial(client, listing, headers)
    assert sub["subscription_type"] == "TRIAL" and sub["status"] == "ACTIVE"
    assert sub["usage_limit"] == 3 and sub["remaining_usage_count"] == 3
    assert sub["end_date"] is not None
    key = _key(client, sub["id"], headers, name="ci")
    assert key["key"].startswith("qhs_") and key["prefix"] == key["key"][:12]
    stored = SubscriptionKey.query.filter_by(prefix=key["prefix"]).one()
    assert stored.value == hash_token(key["key"]) and key["key"] not in stored.value
    listed = client.get(f"/api/v1/subscriptions/{sub['id']}/keys", headers=headers).json
    assert "key" not in listed["items"][0]

    key_headers = {"X-API-Key": key["key"]}
    first = client.post(f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers=key_headers)
    assert first.status_code == 201, first.json
    assert first.json["remaining_usage_count"] == 2
    job = Job.query.get(first.json["id"])
    assert job.subscription_id.hex == sub["id"].replace("-", "")
    assert job.app_version_id == listing.app.latest_version_id
    # The jobs API runs the key's app too.
    second = client.post("/api/v1/jobs", json={"device": "aer-simulator"}, headers=key_headers)
    assert second.status_code == 201, second.json
    assert second.json["subscription_id"] == sub["id"]
    program = {"program": {"source": "OPENQASM 2.0;", "format": "qasm2"}, "device": "x"}
    assert client.post("/api/v1/jobs", json=program, headers=key_headers).status_code == 422
    primitive = {"device": "aer-simulator", "primitive": "sampler", "pubs": [["OPENQASM 3.0;"]]}
    refused = client.post("/api/v1/jobs", json=primitive, headers=key_headers)
    assert refused.status_code == 422 and "own credentials" in refused.json["error"]["message"]
    assert (
        client.post(
            f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers=key_headers
        ).status_code
        == 201
    )
    used_up = client.post(f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers=key_headers)
    assert used_up.status_code == 402
    assert "trial's 3 runs are used up" in used_up.json["error"]["message"]
    assert used_up.json["error"]["details"]["remaining_usage_count"] == 0
    # A subscription key is no account key: it cannot start trials or create keys.
    assert (
        client.post(
            f"/api/v1/subscriptions/{sub['id']}/keys", json={}, headers=key_headers
        ).status_code
        == 403
    )


def test_inputs_are_bound_and_bad_inputs_cost_nothing(client, api_headers, device):
    listing = listed_app(program=ROTATION)
    _user, sub, key = trial_with_key(listing)
    url = f"/api/v1/marketplace/{listing.id}/jobs"
    bad = client.post(url, json={"inputs": {"theta": "x"}}, headers={"X-API-Key": key})
    assert bad.status_code == 422
    assert Subscription.query.get(sub.id).remaining_usage_count == 3
    good = client.post(
        url, json={"inputs": {"theta": 0.5, "layers": 1}, "shots": 100}, headers={"X-API-Key": key}
    )
    assert good.status_code == 201, good.json
    assert Job.query.get(good.json["id"]).inputs == {"theta": 0.5, "layers": 1}


def test_one_trial_per_user_per_app(client, api_headers, listing):
    user = UserFactory()
    headers = api_headers(user)
    sub = _trial(client, listing, headers)
    again = client.post(f"/api/v1/marketplace/{listing.id}/trial", headers=headers)
    assert again.status_code == 409 and "already had a trial" in again.json["error"]["message"]
    client.delete(f"/api/v1/subscriptions/{sub['id']}", headers=headers)
    assert (
        client.post(f"/api/v1/marketplace/{listing.id}/trial", headers=headers).status_code == 409
    )
    own = client.post(
        f"/api/v1/marketplace/{listing.id}/trial", headers=api_headers(listing.app.developer)
    )
    assert own.status_code == 409


def test_trial_by_days_expires(client, api_headers, listing):
    user, sub, key = trial_with_key(listing)
    sub.end_date = utcnow() - timedelta(minutes=1)
    response = client.post(
        f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers={"X-API-Key": key}
    )
    assert response.status_code == 402
    assert "ended on" in response.json["error"]["message"]
    got = client.get(f"/api/v1/subscriptions/{sub.id}", headers=api_headers(user)).json
    assert got["status"] == "EXPIRED"


def test_paid_period_usage_says_when_it_resets(client, listing):
    sub = paid_subscription(listing, remaining=0)
    sub.usage_resets_at = utcnow() + timedelta(days=3)
    from portal.marketplace import keys

    _key, plaintext = keys.create_key(sub)
    response = client.post(
        f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers={"X-API-Key": plaintext}
    )
    assert response.status_code == 402
    message = response.json["error"]["message"]
    assert "100 runs for the current period are used up" in message and "reset on" in message
    assert response.json["error"]["details"]["resets_at"] is not None


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (SubscriptionStatus.PAST_DUE, "payment for this subscription failed"),
        (SubscriptionStatus.PENDING, "waiting for its payment"),
        (SubscriptionStatus.CANCELLED, "cancelled"),
    ],
)
def test_unpaid_or_cancelled_subscriptions_cannot_run(client, listing, status, words):
    from portal.marketplace import keys

    sub = paid_subscription(listing)
    _key, plaintext = keys.create_key(sub)
    sub.status = status
    response = client.post(
        f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers={"X-API-Key": plaintext}
    )
    assert response.status_code == 402
    assert words in response.json["error"]["message"]


def test_key_rate_limit(client, api_headers, listing):
    user = UserFactory()
    headers = api_headers(user)
    sub = _trial(client, listing, headers)
    key = _key(client, sub["id"], headers, rate_limit="2/minute")
    url = f"/api/v1/marketplace/{listing.id}/jobs"
    for _ in range(2):
        assert client.post(url, json={}, headers={"X-API-Key": key["key"]}).status_code == 201
    limited = client.post(url, json={}, headers={"X-API-Key": key["key"]})
    assert limited.status_code == 429
    assert "2/minute" in limited.json["error"]["message"]
    assert int(limited.headers["Retry-After"]) >= 1
    assert Subscription.query.get(sub["id"]).remaining_usage_count == 1
    bad = client.post(
        f"/api/v1/subscriptions/{sub['id']}/keys", json={"rate_limit": "often"}, headers=headers
    )
    assert bad.status_code == 422


def test_key_cap_and_revocation(client, api_headers, listing):
    user = UserFactory()
    headers = api_headers(user)
    sub = _trial(client, listing, headers)
    capped = _key(client, sub["id"], headers, usage_cap=1)
    url = f"/api/v1/marketplace/{listing.id}/jobs"
    assert client.post(url, json={}, headers={"X-API-Key": capped["key"]}).status_code == 201
    over = client.post(url, json={}, headers={"X-API-Key": capped["key"]})
    assert over.status_code == 402 and "own cap" in over.json["error"]["message"]
    revoke = client.delete(
        f"/api/v1/subscriptions/{sub['id']}/keys/{capped['id']}", headers=headers
    )
    assert revoke.status_code == 200 and revoke.json["status"] == "REVOKED"
    gone = client.post(url, json={}, headers={"X-API-Key": capped["key"]})
    assert gone.status_code == 401 and "revoked" in gone.json["error"]["message"]
    bogus = client.post(url, json={}, headers={"X-API-Key": "qhs_not-a-key"})
    assert bogus.status_code == 401


def test_key_of_another_app_is_refused(client, listing, device):
    other = listed_app()
    _user, _sub, key = trial_with_key(other)
    response = client.post(
        f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers={"X-API-Key": key}
    )
    assert response.status_code == 403


def test_signed_in_subscriber_runs_without_a_key(client, api_headers, listing):
    user = UserFactory()
    url = f"/api/v1/marketplace/{listing.id}/jobs"
    none = client.post(url, json={}, headers=api_headers(user))
    assert none.status_code == 402 and none.json["error"]["code"] == "no_subscription"
    _trial(client, listing, api_headers(user))
    assert client.post(url, json={}, headers=api_headers(user)).status_code == 201


def test_cancel_stops_keys(client, api_headers, listing):
    user, sub, key = trial_with_key(listing)
    headers = api_headers(user)
    response = client.delete(f"/api/v1/subscriptions/{sub.id}", headers=headers)
    assert response.status_code == 200 and response.json["status"] == "CANCELLED"
    assert client.delete(f"/api/v1/subscriptions/{sub.id}", headers=headers).status_code == 409
    run = client.post(f"/api/v1/marketplace/{listing.id}/jobs", json={}, headers={"X-API-Key": key})
    assert run.status_code == 402 and "cancelled" in run.json["error"]["message"]
    assert client.get(f"/api/v1/marketplace/{listing.id}").json["number_of_subscriptions"] == 0


def test_put_cancels(client, api_headers, listing):
    user, sub, _key = trial_with_key(listing)
    url = f"/api/v1/subscriptions/{sub.id}"
    assert client.put(url, json={"status": "ACTIVE"}, headers=api_headers(user)).status_code == 422
    response = client.put(url, json={"status": "CANCELLED"}, headers=api_headers(user))
    assert response.json["status"] == "CANCELLED"


def test_subscriptions_are_private(client, api_headers, listing):
    user, sub, _key = trial_with_key(listing)
    stranger = api_headers(UserFactory())
    for method, path in [
        ("get", f"/api/v1/subscriptions/{sub.id}"),
        ("delete", f"/api/v1/subscriptions/{sub.id}"),
        ("get", f"/api/v1/subscriptions/{sub.id}/keys"),
        ("post", f"/api/v1/subscriptions/{sub.id}/keys"),
        ("get", "/api/v1/subscriptions/not-a-uuid"),
    ]:
        response = getattr(client, method)(
            path, headers=stranger, json={} if method == "post" else None
        )
        assert response.status_code == 404, (method, path)
    mine = client.get("/api/v1/subscriptions", headers=api_headers(user)).json
    assert mine["total"] == 1 and mine["items"][0]["app_name"] == listing.app.name
    assert client.get("/api/v1/subscriptions", headers=stranger).json["total"] == 0
    assert client.get("/api/v1/subscriptions").status_code == 401


def test_subscribe_refuses_plans_not_offered(client, api_headers, device):
    listing = listed_app(types=("TRIAL", "MONTHLY"))
    response = client.post(
        f"/api/v1/marketplace/{listing.id}/subscribe",
        json={"subscription_type": "ANNUAL"},
        headers=api_headers(UserFactory()),
    )
    assert (
        response.status_code == 422 and "does not offer ANNUAL" in response.json["error"]["message"]
    )


def test_listing_status_enum(listing):
    assert listing.status is MarketplaceListingStatus.ACTIVE


def test_marketplace_search_is_the_registrys_full_text_search(client):
    listed_app(name="Shor Factoring", description="Factors integers.")
    listed_app(name="Teleport", readme_content="# Teleport\n\nMoves entangled states.")
    listed_app(name="Grover Search")

    def names(q):
        return sorted(i["name"] for i in client.get(f"/api/v1/marketplace?q={q}").json["items"])

    assert names("factoring") == ["Shor Factoring"]
    assert names("factor") == ["Shor Factoring"]  # stemmed, and a word being typed
    assert names("entanglement") == ["Teleport"]  # the README counts, stemmed
    assert names("gro") == ["Grover Search"]
    assert names("'); drop table users; --") == []
