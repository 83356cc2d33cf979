"""Marketplace pages: browse, listing (pricing, rating, reviews, docs, try-it preview,
provider controls), publishing, subscriptions with usage and keys, and the local
test-payment checkout. Thin: parse (forms that an API operation also takes go through its
marshmallow schema), call the marketplace use cases (listings, reviews, subscriptions, runs),
render."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from marshmallow import EXCLUDE, Schema, ValidationError

from portal.accounts.auth import page_auth
from portal.accounts.models import Role
from portal.apps import services as apps_services
from portal.apps.models import AppType
from portal.core import cache
from portal.core.errors import NotFound, PortalError, ValidationFailed
from portal.core.extensions import db, htmx
from portal.core.paging import Page, page_number
from portal.core.payments import LocalTestProvider, apply_local_event, provider
from portal.core.web import flash_refusal
from portal.marketplace import keys, listings, policy, reviews, runs
from portal.marketplace import subscriptions as subs
from portal.marketplace.models import (
    MarketplaceListingStatus,
    Subscription,
    SubscriptionStatus,
    SubscriptionType,
)
from portal.marketplace.schemas import (
    KeyCreateSchema,
    ListingUpdateSchema,
    ReviewSchema,
    RunSchema,
    SubscribeSchema,
)

bp = Blueprint("marketplace", __name__, url_prefix="/marketplace")
PER_PAGE = 12
PLAN_LABELS = {
    "TRIAL": "Free trial",
    "MONTHLY": "Monthly",
    "ANNUAL": "Annual",
    "PAY_AS_YOU_GO": "Pay as you go",
}


def _redirect(url: str):
    """A redirect that also works for htmx requests (full navigation)."""
    if htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url)


def _viewer():
    return current_user if current_user.is_authenticated else None


def _load_form(schema: type[Schema], extra: dict | None = None) -> dict:
    """``request.form`` loaded through the API operation's own schema, so a page takes exactly
    what the API takes. Blank fields count as not sent (the schema's default applies); other
    form fields (the CSRF token) are ignored. Refused as one ValidationFailed with the
    schema's messages, which the page shows."""
    data = {name: value for name, value in request.form.items() if value.strip()}
    try:
        return schema().load({**data, **(extra or {})}, unknown=EXCLUDE)
    except ValidationError as exc:
        raise ValidationFailed(
            " ".join(f"{name}: {_messages(found)}" for name, found in sorted(exc.messages.items())),
            details=exc.messages,
        ) from None


def _messages(found) -> str:
    if isinstance(found, dict):
        return " ".join(_messages(value) for value in found.values())
    if isinstance(found, list):
        return " ".join(_messages(value) for value in found)
    return str(found)


@bp.app_template_filter("money")
def money(value, currency: str = "USD") -> str:
    return f"{Decimal(value or 0):,.2f} {currency}"


# -- browse and listing -----------------------------------------------------------------------


SORT_LABELS = {
    "popularity": "Most popular",
    "rating": "Best rated",
    "price": "Price: low to high",
    "price_desc": "Price: high to low",
    "newest": "Newest",
}


@bp.get("/")
def browse():
    return cache.shared_page("marketplace", {}, _browse)


def _browse():
    args = {
        "q": request.args.get("q", "").strip(),
        "type": request.args.get("type", ""),
        "offers": request.args.get("offers", ""),
        "max_price": request.args.get("max_price", "").strip(),
        "min_rating": request.args.get("min_rating", ""),
        "sort": request.args.get("sort", "popularity"),
    }
    page_no = page_number(request.args.get("page"))

    def results(result, error=None):
        return render_template("marketplace/_results.html", result=result, args=args, error=error)

    def search():
        max_price = Decimal(args["max_price"]) if args["max_price"] else None
        min_rating = float(args["min_rating"]) if args["min_rating"] else None
        result = listings.browse(
            q=args["q"],
            app_type=args["type"] or None,
            offers=args["offers"] or None,
            max_price=max_price,
            min_rating=min_rating,
            sort=args["sort"] or "popularity",
            page=page_no,
            per_page=PER_PAGE,
        )
        return results(result)

    try:
        results_html = cache.fragment("marketplace", {**args, "page": page_no}, search)
    except (PortalError, InvalidOperation, ValueError) as exc:
        error = getattr(exc, "message", "Check the filters: prices and ratings are numbers.")
        results_html = Markup(results(Page([], 0, 1, PER_PAGE), error))  # noqa: S704
    if htmx and htmx.target == "results":
        return results_html
    return render_template(
        "marketplace/browse.html",
        results_html=results_html,
        args=args,
        types=[t.name for t in AppType],
        plans=PLAN_LABELS,
        sorts=SORT_LABELS,
    )


def _listing_context(listing, review_form=None):
    user = _viewer()
    app = listing.app
    version = app.latest_version
    reviews_page = page_number(request.args.get("reviews_page"))
    page_of_reviews = reviews.list_reviews(listing, reviews_page, 10)
    return {
        "listing": listing,
        "app": app,
        "version": version,
        "reviews": page_of_reviews,
        "plans": PLAN_LABELS,
        "prices": {
            name: listings.price_for(listing, SubscriptionType[name])
            for name in listing.subscription_types
        },
        "is_owner": policy.may_manage_listing(listing, user),
        "can_review": user is not None and reviews.can_review(user, app),
        "own_review": reviews.own_review(user, listing),
        "active": subs.active_subscription_for(user, listing) if user else None,
        "had_trial": user is not None and _had_trial(user, listing),
        "review_form": review_form or {},
    }


def _had_trial(user, listing) -> bool:
    return (
        db.session.query(Subscription.id)
        .filter_by(
            user_id=user.id,
            quantum_app_id=listing.quantum_app_id,
            subscription_type=SubscriptionType.TRIAL,
        )
        .first()
        is not None
    )


@bp.get("/<listing_id>")
def listing(listing_id):
    return cache.shared_page("marketplace-listing", {}, lambda: _listing_page(listing_id))


def _listing_page(listing_id):
    item = listings.get_listing(listing_id, _viewer(), for_page=True)
    context = _listing_context(item)
    if htmx and htmx.target == "reviews-list":
        return render_template("marketplace/_reviews.html", **context)
    return render_template("marketplace/listing.html", **context)


@bp.post("/<listing_id>/trial")
@page_auth()
def trial(listing_id):
    item = listings.get_listing(listing_id, current_user)
    try:
        sub = subs.start_trial(current_user, item)
    except PortalError as exc:
        flash_refusal(exc)
        return _redirect(url_for("marketplace.listing", listing_id=item.id))
    flash("Your trial is active. Create a key to run the app.", "success")
    return _redirect(url_for("marketplace.subscription", sub_id=sub.id))


@bp.post("/<listing_id>/subscribe")
@page_auth()
def subscribe(listing_id):
    item = listings.get_listing(listing_id, current_user)
    base = request.host_url.rstrip("/")
    try:
        plan = _load_form(SubscribeSchema)["subscription_type"]
        _sub, checkout = subs.subscribe(
            current_user,
            item,
            plan,
            success_url=f"{base}/marketplace/subscriptions/{{SUBSCRIPTION_ID}}?checkout=done",
            cancel_url=f"{base}{url_for('marketplace.listing', listing_id=item.id)}",
        )
    except PortalError as exc:
        flash_refusal(exc)
        return _redirect(url_for("marketplace.listing", listing_id=item.id))
    return _redirect(checkout.url)


@bp.post("/<listing_id>/status")
@page_auth(roles=(Role.PROVIDER, Role.ADMIN))
def set_status(listing_id):
    item = listings.get_listing_for_change(listing_id, current_user)
    try:
        listings.set_listing_status(item, _load_form(ListingUpdateSchema)["status"])
    except PortalError as exc:
        flash_refusal(exc)
    else:
        labels = {
            MarketplaceListingStatus.ACTIVE: "active again",
            MarketplaceListingStatus.PAUSED: "paused: no new subscriptions",
            MarketplaceListingStatus.DELISTED: "delisted: hidden from the Marketplace",
        }
        flash(f"{item.app.name} is {labels[item.status]}.", "success")
    return _redirect(url_for("marketplace.listing", listing_id=item.id))


@bp.post("/<listing_id>/reviews")
@page_auth()
def review(listing_id):
    item = listings.get_listing(listing_id, current_user)
    try:
        form = _load_form(ReviewSchema)
        existing = reviews.own_review(current_user, item)
        if existing is None:
            reviews.add_review(current_user, item, **form)
        else:
            reviews.update_review(existing, **form)
    except PortalError as exc:
        flash_refusal(exc)
    else:
        flash("Thanks — your review is saved.", "success")
    return _redirect(url_for("marketplace.listing", listing_id=item.id) + "#reviews")


@bp.post("/<listing_id>/reviews/delete")
@page_auth()
def delete_review(listing_id):
    item = listings.get_listing(listing_id, current_user)
    existing = reviews.own_review(current_user, item)
    if existing is None:
        raise NotFound("You have no review of this app.")
    reviews.delete_review(existing)
    flash("Your review was deleted.", "success")
    return _redirect(url_for("marketplace.listing", listing_id=item.id) + "#reviews")


# -- publishing -------------------------------------------------------------------------------


@bp.route("/publish/<app_id>", methods=["GET", "POST"])
@page_auth(roles=(Role.PROVIDER, Role.ADMIN))
def publish(app_id):
    app = apps_services.get_app_for_change(app_id, current_user)
    current = listings.listing_for_app(app.id)
    form = {
        "price": str(current.price) if current else "10.00",
        "currency": current.currency if current else "USD",
        "subscription_types": current.subscription_types if current else ["TRIAL", "MONTHLY"],
        "trial_usage_limit": current.trial_usage_limit if current else 10,
        "trial_days": current.trial_days if current else 14,
        "paid_usage_limit": (current.paid_usage_limit or "") if current else 1000,
        "support_email": (current.support_email or "") if current else "",
        "support_url": (current.support_url or "") if current else "",
        "preview_enabled": current.preview_enabled if current else True,
    }
    error = None
    if request.method == "POST":
        form = {
            "price": request.form.get("price", ""),
            "currency": request.form.get("currency", "USD"),
            "subscription_types": request.form.getlist("subscription_types"),
            "trial_usage_limit": request.form.get("trial_usage_limit", "0"),
            "trial_days": request.form.get("trial_days", "0"),
            "paid_usage_limit": request.form.get("paid_usage_limit", ""),
            "support_email": request.form.get("support_email", ""),
            "support_url": request.form.get("support_url", ""),
            "preview_enabled": bool(request.form.get("preview_enabled")),
        }
        try:
            try:
                price = Decimal(form["price"])
                trial_limit = int(form["trial_usage_limit"] or 0)
                trial_days = int(form["trial_days"] or 0)
                paid_limit = int(form["paid_usage_limit"]) if form["paid_usage_limit"] else None
            except (InvalidOperation, ValueError):
                raise ValidationFailed(
                    "Price and limits must be numbers (leave the paid limit empty for unlimited)."
                ) from None
            item = listings.publish_listing(
                app.id,
                current_user,
                price=price,
                currency=form["currency"],
                subscription_types=form["subscription_types"],
                trial_usage_limit=trial_limit,
                trial_days=trial_days,
                paid_usage_limit=paid_limit,
                support_email=form["support_email"],
                support_url=form["support_url"],
                preview_enabled=form["preview_enabled"],
            )
        except PortalError as exc:
            error = exc.message
        else:
            flash(f"{app.name} is on the Marketplace.", "success")
            return redirect(url_for("marketplace.listing", listing_id=item.id))
    return render_template(
        "marketplace/publish.html",
        app=app,
        form=form,
        error=error,
        plans=PLAN_LABELS,
        currencies=listings.CURRENCIES,
    ), (422 if error else 200)


# -- subscriptions and keys -------------------------------------------------------------------


@bp.get("/subscriptions")
@page_auth()
def subscriptions():
    page = page_number(request.args.get("page"))
    result = subs.list_subscriptions(current_user, page=page, per_page=20)
    return render_template(
        "marketplace/subscriptions.html",
        result=result,
        effective_status=subs.effective_status,
        plans=PLAN_LABELS,
    )


def _runnable_version(sub):
    try:
        return listings.latest_runnable_version(sub.app)
    except PortalError:
        return None


def _subscription_context(sub, new_key=None):
    return {
        "version": _runnable_version(sub),
        "sub": sub,
        "status": subs.effective_status(sub),
        "keys": keys.list_keys(sub),
        "new_key": new_key,
        "listing": listings.listing_for_app(sub.quantum_app_id),
        "plans": PLAN_LABELS,
        "statuses": SubscriptionStatus,
    }


@bp.get("/subscriptions/<sub_id>")
@page_auth()
def subscription(sub_id):
    sub = subs.get_subscription(current_user, sub_id)
    return render_template("marketplace/subscription.html", **_subscription_context(sub))


@bp.post("/subscriptions/<sub_id>/keys")
@page_auth()
def create_key(sub_id):
    sub = subs.get_subscription(current_user, sub_id)
    new_key = None
    try:
        _key, new_key = keys.create_key(sub, name=_load_form(KeyCreateSchema)["name"])
    except PortalError as exc:
        flash_refusal(exc)
    context = _subscription_context(sub, new_key)
    if htmx:
        return render_template("marketplace/_keys.html", **context)
    return render_template("marketplace/subscription.html", **context)


@bp.post("/subscriptions/<sub_id>/keys/<key_id>/revoke")
@page_auth()
def revoke_key(sub_id, key_id):
    sub = subs.get_subscription(current_user, sub_id)
    keys.revoke_key(keys.get_key(sub, key_id))
    if htmx:
        return render_template("marketplace/_keys.html", **_subscription_context(sub))
    flash("The key was revoked.", "success")
    return redirect(url_for("marketplace.subscription", sub_id=sub.id))


def _form_inputs(schema: dict | None) -> dict:
    """The run form's inputs, typed by the version's input schema (numbers stay numbers)."""
    inputs = {}
    for name, spec in ((schema or {}).get("properties") or {}).items():
        raw = request.form.get(f"input-{name}", "").strip()
        if raw == "":
            continue
        kind = spec.get("type") if isinstance(spec, dict) else None
        try:
            inputs[name] = (
                int(raw) if kind == "integer" else float(raw) if kind == "number" else raw
            )
        except ValueError:
            inputs[name] = raw  # the service explains what is wrong with it
    return inputs


@bp.post("/subscriptions/<sub_id>/run")
@page_auth()
def run(sub_id):
    """Run the subscription's app from the page (one run), as a key does over the API."""

    sub = subs.get_subscription(current_user, sub_id)
    try:
        version = listings.latest_runnable_version(sub.app)
        # The form offers inputs and shots ("1.5" is refused, not turned into the default).
        form = _load_form(RunSchema, {"inputs": _form_inputs(version.input_schema)})
        job = runs.run_app(current_user, sub, inputs=form["inputs"], shots=form["shots"])
    except PortalError as exc:
        flash_refusal(exc)
        return redirect(url_for("marketplace.subscription", sub_id=sub.id))
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.post("/subscriptions/<sub_id>/cancel")
@page_auth()
def cancel(sub_id):
    sub = subs.get_subscription(current_user, sub_id)
    try:
        subs.cancel_subscription(sub)
    except PortalError as exc:
        flash_refusal(exc)
    else:
        flash("The subscription is cancelled; its keys no longer run jobs.", "success")
    return _redirect(url_for("marketplace.subscription", sub_id=sub.id))


# -- the local test-payment checkout ----------------------------------------------------------


@bp.route("/checkout/<session_id>", methods=["GET", "POST"])
@page_auth()
def checkout(session_id):
    """The local test provider's checkout page. "Pay (test)" applies the same
    checkout.session.completed event a signed Stripe webhook would."""
    if provider().name != "local":
        raise NotFound("Payments go through Stripe here; this test checkout is disabled.")
    sub = subs.get_by_checkout(current_user, session_id)
    listing = listings.listing_for_app(sub.quantum_app_id)
    if request.method == "POST":
        if sub.status is SubscriptionStatus.PENDING:
            event = LocalTestProvider.checkout_completed_event(
                session_id=session_id,
                subscription_id=sub.id,
                customer_id=sub.stripe_customer_id,
                recurring=sub.subscription_type.name in ("MONTHLY", "ANNUAL"),
            )
            apply_local_event(event)  # billing applies it (portal.billing.webhooks)
            flash("Payment received (test). Your subscription is active.", "success")
        return redirect(url_for("marketplace.subscription", sub_id=sub.id, checkout="done"))
    return render_template(
        "billing/checkout.html", sub=sub, listing=listing, plans=PLAN_LABELS, session_id=session_id
    )
