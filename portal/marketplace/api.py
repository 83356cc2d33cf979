"""Marketplace JSON API: publishing (/quantum-apps/{id}/publish-marketplace), listings,
trials, checkout, reviews (/marketplace), subscriptions and their keys (/subscriptions), and
running an app with a subscription. Thin: parse, call services, commit, serialise."""

from __future__ import annotations

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from portal.accounts.auth import api_auth, optional_actor
from portal.core.apidocs import error_responses
from portal.core.apipaging import PageArgs, envelope
from portal.core.payments import provider
from portal.execution.models import JobRunMode
from portal.execution.submission import wait_for
from portal.marketplace import keys, listings, reviews, runs, subscriptions
from portal.marketplace.schemas import (
    BrowseArgs,
    CheckoutSchema,
    KeyCreateSchema,
    KeyListSchema,
    KeySchema,
    ListingDetailSchema,
    ListingPageSchema,
    ListingUpdateSchema,
    NewKeySchema,
    PublishSchema,
    ReviewPageSchema,
    ReviewSchema,
    RunResultSchema,
    RunSchema,
    SubscribeSchema,
    SubscriptionArgs,
    SubscriptionPageSchema,
    SubscriptionSchema,
    SubscriptionUpdateSchema,
)

publish_blp = Blueprint(
    "marketplace_publish_api",
    __name__,
    url_prefix="/quantum-apps",
    description="Publish an app to the Marketplace (its provider)",
)
blp = Blueprint(
    "marketplace_api",
    __name__,
    url_prefix="/marketplace",
    description="Marketplace listings, trials, checkout, reviews and running apps",
)
subscriptions_blp = Blueprint(
    "subscriptions_api",
    __name__,
    url_prefix="/subscriptions",
    description="Your subscriptions, their usage and their keys",
)


def _optional_user():
    """The caller when credentials are sent (public routes show providers their own). A
    subscription key reads public listings as anonymous: it stands for one app, not for
    its owner's account."""
    actor = optional_actor()
    return actor.user if actor is not None and actor.subscription_key is None else None


MARKETPLACE_ERRORS = {
    402: "No runs left, or the subscription is unpaid, cancelled or ended (says which)",
    403: "Not allowed (role, owner, or the key belongs to another app)",
    409: "Conflicts with the current state (e.g. second trial, already subscribed)",
}


def _errors(blp_: Blueprint, *statuses: int):
    return error_responses(blp_, *statuses, descriptions=MARKETPLACE_ERRORS)


# -- publishing and listings ------------------------------------------------------------------


@publish_blp.route("/<app_id>/publish-marketplace", methods=["POST"])
@api_auth(scope="full")
@publish_blp.arguments(PublishSchema)
@publish_blp.response(200, ListingDetailSchema)
@_errors(publish_blp, 401, 403, 404, 409, 422)
def publish(data, app_id):
    """Put an app on the Marketplace (or update and re-activate its listing)"""
    listing = listings.publish_listing(app_id, g.api_user, **data)
    return listing


@blp.route("")
class Listings(MethodView):
    @blp.arguments(BrowseArgs, location="query")
    @blp.response(200, ListingPageSchema)
    @_errors(blp, 422)
    def get(self, args):
        """Browse active listings: search, filter by type/plan/price/rating, sort, page"""
        return envelope(
            listings.browse(
                q=args.get("q"),
                app_type=args.get("type"),
                offers=args.get("offers"),
                max_price=args.get("max_price"),
                min_rating=args.get("min_rating"),
                sort=args["sort"],
                page=args["page"],
                per_page=args["per_page"],
            )
        )


@blp.route("/<listing_id>")
class Listing(MethodView):
    @blp.response(200, ListingDetailSchema)
    @_errors(blp, 404)
    def get(self, listing_id):
        """One listing (by listing id or app id): pricing, rating, README and preview"""
        return listings.get_listing(listing_id, _optional_user())

    @api_auth(scope="full")
    @blp.arguments(ListingUpdateSchema)
    @blp.response(200, ListingDetailSchema)
    @_errors(blp, 401, 403, 404, 422)
    def put(self, data, listing_id):
        """Pause, resume or delist (the provider); existing subscriptions keep running"""
        listing = listings.get_listing_for_change(listing_id, g.api_user)
        listings.set_listing_status(listing, data["status"])
        return listing


@blp.route("/<listing_id>/trial", methods=["POST"])
@api_auth(scope="full")
@blp.response(201, SubscriptionSchema)
@_errors(blp, 401, 404, 409, 422)
def trial(listing_id):
    """Start the free trial (one per user per app)"""
    listing = listings.get_listing(listing_id, g.api_user)
    sub = subscriptions.start_trial(g.api_user, listing)
    return sub


@blp.route("/<listing_id>/subscribe", methods=["POST"])
@api_auth(scope="full")
@blp.arguments(SubscribeSchema)
@blp.response(201, CheckoutSchema)
@_errors(blp, 401, 404, 409, 422)
def subscribe(data, listing_id):
    """Start a paid plan: answers the checkout URL; the subscription turns ACTIVE when the
    payment provider confirms the payment"""
    listing = listings.get_listing(listing_id, g.api_user)
    base = request.host_url.rstrip("/")
    sub, checkout = subscriptions.subscribe(
        g.api_user,
        listing,
        data["subscription_type"],
        success_url=data.get("success_url")
        or f"{base}/marketplace/subscriptions/{{SUBSCRIPTION_ID}}?checkout=done",
        cancel_url=data.get("cancel_url") or f"{base}/marketplace/{listing.id}",
    )
    return {
        "subscription": sub,
        "checkout_url": checkout.url,
        "checkout_session_id": checkout.session_id,
        "provider": provider().name,
    }


@blp.route("/<listing_id>/reviews")
class Reviews(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, ReviewPageSchema)
    @_errors(blp, 404)
    def get(self, args, listing_id):
        """The listing's reviews, newest first"""
        listing = listings.get_listing(listing_id, _optional_user())
        return envelope(reviews.list_reviews(listing, args["page"], args["per_page"]))

    @api_auth(scope="full")
    @blp.arguments(ReviewSchema)
    @blp.response(201, ReviewSchema)
    @_errors(blp, 401, 403, 404, 409, 422)
    def post(self, data, listing_id):
        """Review the app: 1–5 stars; one per user; only subscribers or downloaders"""
        listing = listings.get_listing(listing_id, g.api_user)
        review = reviews.add_review(g.api_user, listing, **data)
        return review


@blp.route("/<listing_id>/reviews/<review_id>")
class OwnReview(MethodView):
    @api_auth(scope="full")
    @blp.arguments(ReviewSchema)
    @blp.response(200, ReviewSchema)
    @_errors(blp, 401, 404, 422)
    def put(self, data, listing_id, review_id):
        """Edit your review"""
        listing = listings.get_listing(listing_id, g.api_user)
        review = reviews.update_review(
            reviews.get_own_review(g.api_user, listing, review_id), **data
        )
        return review

    @api_auth(scope="full")
    @blp.response(204)
    @_errors(blp, 401, 404)
    def delete(self, listing_id, review_id):
        """Delete your review"""
        listing = listings.get_listing(listing_id, g.api_user)
        reviews.delete_review(reviews.get_own_review(g.api_user, listing, review_id))


# -- running an app ---------------------------------------------------------------------------


@blp.route("/<listing_id>/jobs", methods=["POST"])
@api_auth(scope="jobs", subscription_key=True)
@blp.arguments(RunSchema)
@blp.response(201, RunResultSchema)
@_errors(blp, 401, 402, 403, 404, 422, 429)
def run(data, listing_id):
    """Run the app (latest published version) with inputs, spending one run of your
    subscription. Send the subscription key as X-API-Key (or sign in with an active
    subscription)"""
    key = g.actor.subscription_key
    listing = listings.get_listing(listing_id, None if key else g.api_user)
    job = runs.run_app(g.api_user, listing=listing, key=key, **data)
    if job.run_mode is JobRunMode.BLOCKING:
        wait_for(job, current_app.config["BLOCKING_WAIT_SECONDS"])
    return job


# -- subscriptions and keys -------------------------------------------------------------------


@subscriptions_blp.route("")
class Subscriptions(MethodView):
    @api_auth(scope="read")
    @subscriptions_blp.arguments(SubscriptionArgs, location="query")
    @subscriptions_blp.response(200, SubscriptionPageSchema)
    @_errors(subscriptions_blp, 401, 422)
    def get(self, args):
        """Your subscriptions, newest first"""
        return envelope(
            subscriptions.list_subscriptions(
                g.api_user, status=args.get("status"), page=args["page"], per_page=args["per_page"]
            )
        )


@subscriptions_blp.route("/<sub_id>")
class SubscriptionItem(MethodView):
    @api_auth(scope="read")
    @subscriptions_blp.response(200, SubscriptionSchema)
    @_errors(subscriptions_blp, 401, 404)
    def get(self, sub_id):
        """One subscription with its usage left and when it resets"""
        return subscriptions.get_subscription(g.api_user, sub_id)

    @api_auth(scope="full")
    @subscriptions_blp.arguments(SubscriptionUpdateSchema)
    @subscriptions_blp.response(200, SubscriptionSchema)
    @_errors(subscriptions_blp, 401, 404, 409, 422)
    def put(self, data, sub_id):
        """Change a subscription: ``{"status": "CANCELLED"}`` cancels it"""
        sub = subscriptions.cancel_subscription(subscriptions.get_subscription(g.api_user, sub_id))
        return sub

    @api_auth(scope="full")
    @subscriptions_blp.response(200, SubscriptionSchema)
    @_errors(subscriptions_blp, 401, 404, 409)
    def delete(self, sub_id):
        """Cancel now (also at Stripe); its keys stop working at once"""
        sub = subscriptions.cancel_subscription(subscriptions.get_subscription(g.api_user, sub_id))
        return sub


@subscriptions_blp.route("/<sub_id>/keys")
class SubscriptionKeys(MethodView):
    @api_auth(scope="read")
    @subscriptions_blp.response(200, KeyListSchema)
    @_errors(subscriptions_blp, 401, 404)
    def get(self, sub_id):
        """The subscription's keys (prefixes only; the keys themselves are never shown again)"""
        return {"items": keys.list_keys(subscriptions.get_subscription(g.api_user, sub_id))}

    @api_auth(scope="full")
    @subscriptions_blp.arguments(KeyCreateSchema)
    @subscriptions_blp.response(201, NewKeySchema)
    @_errors(subscriptions_blp, 401, 404, 409, 422)
    def post(self, data, sub_id):
        """Create a key: the answer is the only time the key is shown"""
        sub = subscriptions.get_subscription(g.api_user, sub_id)
        key, plaintext = keys.create_key(sub, **data)
        key.key = plaintext
        return key


@subscriptions_blp.route("/<sub_id>/keys/<key_id>", methods=["DELETE"])
@api_auth(scope="full")
@subscriptions_blp.response(200, KeySchema)
@_errors(subscriptions_blp, 401, 404)
def revoke_key(sub_id, key_id):
    """Revoke a key; it stops working at once"""
    key = keys.revoke_key(keys.get_key(subscriptions.get_subscription(g.api_user, sub_id), key_id))
    return key


blueprints = [publish_blp, blp, subscriptions_blp]
