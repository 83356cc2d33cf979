"""Reviews: who may write them, one per user per app, and rating aggregates that always
match the reviews (listing rating, rating_count and app_metrics.average_rating)."""

import pytest

from portal.analytics.usage import record_usage
from portal.apps import metrics
from portal.marketplace import reviews
from portal.marketplace.models import MarketplaceListing
from tests.factories.accounts import UserFactory
from tests.factories.marketplace import trial_with_key


def _url(listing, suffix=""):
    return f"/api/v1/marketplace/{listing.id}/reviews{suffix}"


def _aggregates(listing):
    row = MarketplaceListing.query.get(listing.id)
    return row.rating, row.rating_count, metrics.app_metrics(listing.quantum_app_id).average_rating


def test_only_subscribers_or_downloaders_review(client, api_headers, listing):
    stranger = UserFactory()
    refused = client.post(_url(listing), json={"rating": 5}, headers=api_headers(stranger))
    assert refused.status_code == 403 and "subscribed" in refused.json["error"]["message"]
    owner = client.post(
        _url(listing), json={"rating": 5}, headers=api_headers(listing.app.developer)
    )
    assert owner.status_code == 403
    record_usage(stranger.id, "registry.download", quantum_app_id=listing.quantum_app_id)
    allowed = client.post(_url(listing), json={"rating": 4}, headers=api_headers(stranger))
    assert allowed.status_code == 201, allowed.json


def test_one_review_per_user_and_aggregates_match(client, api_headers, listing):
    alice, _sub, _key = trial_with_key(listing)
    bob, _sub, _key = trial_with_key(listing)
    first = client.post(
        _url(listing), json={"rating": 5, "title": "Great", "content": "Works."},
        headers=api_headers(alice),
    )  # fmt: skip
    assert first.status_code == 201
    assert _aggregates(listing) == (5.0, 1, 5.0)
    again = client.post(_url(listing), json={"rating": 1}, headers=api_headers(alice))
    assert again.status_code == 409
    client.post(_url(listing), json={"rating": 2}, headers=api_headers(bob))
    assert _aggregates(listing) == (3.5, 2, 3.5)
    edited = client.put(
        _url(listing, f"/{first.json['id']}"), json={"rating": 3, "title": "OK"},
        headers=api_headers(alice),
    )  # fmt: skip
    assert edited.status_code == 200 and edited.json["title"] == "OK"
    assert _aggregates(listing) == (2.5, 2, 2.5)
    # Bob cannot touch Alice's review.
    assert (
        client.delete(_url(listing, f"/{first.json['id']}"), headers=api_headers(bob)).status_code
        == 404
    )
    assert (
        client.delete(_url(listing, f"/{first.json['id']}"), headers=api_headers(alice)).status_code
        == 204
    )
    assert _aggregates(listing) == (2.0, 1, 2.0)
    page = client.get(_url(listing)).json
    assert page["total"] == 1 and page["items"][0]["user"] == bob.username
    detail = client.get(f"/api/v1/marketplace/{listing.id}").json
    assert (detail["rating"], detail["rating_count"]) == (2.0, 1)


@pytest.mark.parametrize("rating", [0, 6, "five", None])
def test_rating_is_one_to_five_stars(client, api_headers, listing, rating):
    user, _sub, _key = trial_with_key(listing)
    response = client.post(_url(listing), json={"rating": rating}, headers=api_headers(user))
    assert response.status_code == 422


def test_review_service_rules(listing):
    user, _sub, _key = trial_with_key(listing)
    with pytest.raises(reviews.ValidationFailed):
        reviews.add_review(user, listing, rating=True)
    with pytest.raises(reviews.ValidationFailed):
        reviews.add_review(user, listing, rating=3, title="x" * 101)
    review = reviews.add_review(user, listing, rating=3, title="  ", content=" fine ")
    assert review.title is None and review.content == "fine"
    from portal.notifications.models import Notification

    note = Notification.query.filter_by(user_id=listing.app.developer_id).all()
    assert any("rated" in n.message for n in note)
