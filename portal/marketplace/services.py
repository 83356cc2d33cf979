"""Marketplace rules: listings, reviews, subscriptions (trials and paid plans) and running
an app within what a subscription allows.

Services take plain values and ``db.session``, flush and never commit (the request commits).

Plans: the listing's ``price`` is the monthly price. MONTHLY charges it every month, ANNUAL
charges ``ANNUAL_MONTHS`` x price every year (two months free), PAY_AS_YOU_GO charges it once
for a pack of ``paid_usage_limit`` runs (``PAYG_DEFAULT_PACK`` when unlimited). Recurring plans
allow ``paid_usage_limit`` runs per period (NULL = unlimited) and refill when the period renews.
A TRIAL is free, limited by ``trial_usage_limit`` runs and/or ``trial_days``, one per user
per app (a partial unique index guarantees it).

Usage: ``subscriptions.remaining_usage_count`` is shared by all keys of a subscription and is
decremented by one conditional UPDATE per job (``consume_run``), so concurrent jobs can never
spend more than the allowance.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.analytics import metrics
from portal.analytics.models import AppMetrics, UsageAnalytics
from portal.apps.models import AppType, AppVersion, AppVisibility, QuantumApp, VersionStatus
from portal.apps.services import search_filter
from portal.billing.payments import CheckoutRequest, CheckoutStart, provider
from portal.core import cache
from portal.core.db import utcnow
from portal.core.errors import Conflict, Forbidden, NotFound, PaymentRequired, ValidationFailed
from portal.core.inputs import INT_MAX, URL_CHARS, bounded_text, whole_number
from portal.core.paging import Page, cached_count, paginate
from portal.extensions import db
from portal.marketplace import policy
from portal.marketplace.models import (
    MarketplaceListing,
    MarketplaceListingStatus,
    Review,
    Subscription,
    SubscriptionKey,
    SubscriptionStatus,
    SubscriptionType,
)

log = structlog.get_logger("portal.marketplace")

PAID_TYPES = (SubscriptionType.MONTHLY, SubscriptionType.ANNUAL, SubscriptionType.PAY_AS_YOU_GO)
CURRENCIES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY")
ANNUAL_MONTHS = 10
PAYG_DEFAULT_PACK = 100
PERIOD_DAYS = {SubscriptionType.MONTHLY: 30, SubscriptionType.ANNUAL: 365}
SORTS = ("popularity", "rating", "price", "price_desc", "newest")
# usage_analytics endpoints that mean "this user downloaded the app" (review eligibility).
DOWNLOAD_ENDPOINTS = ("apps.download", "registry.download")
DEFAULT_DEVICE = "aer-simulator"
DEFAULT_SHOTS = 1024
MAX_TRIAL_USAGE = 1_000_000  # runs in a trial
MAX_TRIAL_DAYS = 365


def _uuid(value: Any, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"No {what} with id {value!r}.") from None


def _is_owner(listing: MarketplaceListing, user: User | None) -> bool:
    return policy.may_manage_listing(listing, user)


# -- listings ---------------------------------------------------------------------------------


def latest_runnable_version(app: QuantumApp) -> AppVersion:
    """The app's latest PUBLISHED version that has a program to run."""
    version = db.session.execute(
        sa.select(AppVersion).where(
            AppVersion.quantum_app_id == app.id,
            AppVersion.is_latest.is_(True),
            AppVersion.status == VersionStatus.PUBLISHED,
        )
    ).scalar_one_or_none()
    if version is None or not (version.entry_program or "").strip():
        raise Conflict(
            f"{app.name} has no published version with a program to run yet; the provider "
            "must publish one first.",
            details={"quantum_app_id": str(app.id)},
        )
    return version


def _clean_types(types: Any) -> list[str]:
    names = sorted({str(t).upper() for t in (types or [])})
    unknown = [n for n in names if n not in SubscriptionType.__members__]
    if unknown or not names:
        raise ValidationFailed(
            "subscription_types must list one or more of TRIAL, MONTHLY, ANNUAL, PAY_AS_YOU_GO.",
            details={"subscription_types": unknown or "required"},
        )
    if not any(SubscriptionType[n] in PAID_TYPES for n in names):
        raise ValidationFailed(
            "Offer at least one paid plan (MONTHLY, ANNUAL or PAY_AS_YOU_GO) next to a trial.",
            details={"subscription_types": "needs a paid plan"},
        )
    return names


def publish_listing(
    app_id: Any,
    user: User,
    *,
    price: Decimal,
    currency: str = "USD",
    subscription_types: list[str] | None = None,
    trial_usage_limit: int = 10,
    trial_days: int = 14,
    paid_usage_limit: int | None = None,
    support_email: str | None = None,
    support_url: str | None = None,
    preview_enabled: bool = False,
) -> MarketplaceListing:
    """Put an app on the Marketplace, or update and re-activate its listing."""
    from portal.apps import services as apps_services

    app = apps_services.get_app_for_change(app_id, user)
    if app.visibility is AppVisibility.PRIVATE:
        raise ValidationFailed(
            "A private app cannot be sold; make it PUBLIC or UNLISTED first.",
            details={"visibility": app.visibility.value},
        )
    latest_runnable_version(app)
    price = Decimal(str(price))
    if price < 0 or price > Decimal("100000"):
        raise ValidationFailed("price must be between 0 and 100000.", details={"price": "range"})
    currency = (currency or "USD").upper()
    if currency not in CURRENCIES:
        raise ValidationFailed(
            f"currency must be one of {', '.join(CURRENCIES)}.", details={"currency": CURRENCIES}
        )
    types = _clean_types(subscription_types or ["TRIAL", "MONTHLY"])
    if price == 0 and any(SubscriptionType[t] in PAID_TYPES for t in types):
        raise ValidationFailed(
            "Paid plans need a price above 0.", details={"price": "must be above 0"}
        )
    if "TRIAL" in types and not (trial_usage_limit or trial_days):
        raise ValidationFailed(
            "A trial needs a usage limit, an end (trial_days) or both.",
            details={"trial_usage_limit": "or trial_days"},
        )
    # Whole numbers within the columns' bounds (the API schema says the same), before the
    # database: 1.5 is refused, not stored as 1; 10**30 is a 422, not an out-of-range 500.
    trial_usage_limit = whole_number(
        "trial_usage_limit", trial_usage_limit or 0, low=0, high=MAX_TRIAL_USAGE
    )
    trial_days = whole_number("trial_days", trial_days or 0, low=0, high=MAX_TRIAL_DAYS)
    if paid_usage_limit is not None:
        paid_usage_limit = whole_number("paid_usage_limit", paid_usage_limit, low=1, high=INT_MAX)
    bounded_text("support_email", (support_email or "").strip() or None, 100)  # VARCHAR(100)
    bounded_text("support_url", (support_url or "").strip() or None, URL_CHARS)
    listing = db.session.execute(
        sa.select(MarketplaceListing).filter_by(quantum_app_id=app.id)
    ).scalar_one_or_none()
    if listing is None:
        listing = MarketplaceListing(quantum_app_id=app.id, listed_by=user.id, app=app)
        db.session.add(listing)
    listing.price, listing.currency, listing.subscription_types = price, currency, types
    listing.trial_usage_limit = trial_usage_limit or 0
    listing.trial_days = trial_days or 0
    listing.paid_usage_limit = paid_usage_limit
    listing.support_email = (support_email or "").strip() or None
    listing.support_url = (support_url or "").strip() or None
    listing.preview_enabled = bool(preview_enabled)
    listing.status = MarketplaceListingStatus.ACTIVE
    if "PUBLISHED" not in (app.status or []):
        app.status = [*(s for s in (app.status or []) if s != "DRAFT"), "PUBLISHED"]
    db.session.flush()
    metrics.ensure_app_metrics(app.id)
    return listing


# Built once, on first use (the mappers are complete by then), so SQLAlchemy reuses their
# cache keys: a listing's page, and a page of cards.
@functools.cache
def _listing_page_statement():
    app = joinedload(MarketplaceListing.app)
    return (
        sa.select(MarketplaceListing)
        .where(MarketplaceListing.id == sa.bindparam("id"))
        .options(
            app.joinedload(QuantumApp.developer),
            app.joinedload(QuantumApp.latest_version),
            app.joinedload(QuantumApp.metrics),
            app.selectinload(QuantumApp.documentation),
        )
    )


@functools.cache
def _listing_cards_statement():
    app = joinedload(MarketplaceListing.app)
    return (
        sa.select(MarketplaceListing)
        .where(MarketplaceListing.id.in_(sa.bindparam("ids", expanding=True)))
        .options(app.joinedload(QuantumApp.developer), app.joinedload(QuantumApp.metrics))
    )


def get_listing(
    ident: Any, viewer: User | None = None, *, for_page: bool = False
) -> MarketplaceListing:
    """A listing by its id or its app's id. Delisted ones exist only for their provider.
    ``for_page`` also loads the app and what its page shows in the same two queries."""
    key = _uuid(ident, "listing")
    if for_page:
        found = db.session.execute(_listing_page_statement(), {"id": key}).scalar()
    else:
        found = db.session.get(MarketplaceListing, key)
    listing = (
        found
        or db.session.execute(
            sa.select(MarketplaceListing).filter_by(quantum_app_id=key)
        ).scalar_one_or_none()
    )
    if listing is None or (
        listing.status in (MarketplaceListingStatus.DELISTED, MarketplaceListingStatus.DRAFT)
        and not _is_owner(listing, viewer)
    ):
        raise NotFound("No such listing on the Marketplace.", details={"id": str(ident)})
    return listing


def get_listing_for_change(ident: Any, user: User) -> MarketplaceListing:
    listing = get_listing(ident, user)
    if not _is_owner(listing, user):
        raise Forbidden("Only the app's provider or an admin can change this listing.")
    return listing


def set_listing_status(listing: MarketplaceListing, status: MarketplaceListingStatus | str):
    """Pause (no new subscriptions), resume or delist (hidden). Existing subscriptions keep
    running until they end or are cancelled."""
    if isinstance(status, str):
        try:
            status = MarketplaceListingStatus[status.upper()]
        except KeyError:
            raise ValidationFailed(
                "status must be ACTIVE, PAUSED or DELISTED.", details={"status": status}
            ) from None
    if status is MarketplaceListingStatus.DRAFT:
        raise ValidationFailed("A published listing cannot go back to DRAFT; pause it instead.")
    listing.status = status
    db.session.flush()
    return listing


def browse(
    *,
    q: str | None = None,
    app_type: str | None = None,
    offers: str | None = None,
    max_price: Decimal | None = None,
    min_rating: float | None = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Active listings of visible apps, searched, filtered, sorted, paged."""
    statement = (
        sa.select(MarketplaceListing)
        .join(QuantumApp, QuantumApp.id == MarketplaceListing.quantum_app_id)
        .outerjoin(AppMetrics, AppMetrics.quantum_app_id == QuantumApp.id)
        .where(
            MarketplaceListing.status == MarketplaceListingStatus.ACTIVE,
            QuantumApp.visibility == AppVisibility.PUBLIC,
        )
        .options(joinedload(MarketplaceListing.app))
    )
    if q and q.strip():
        # The Registry's search (full text with prefixes, over the stored,
        # indexed document): a substring match scanned every app's name and description.
        statement = search_filter(statement, q)
    if app_type:
        try:
            statement = statement.where(QuantumApp.type == AppType[app_type.upper()])
        except KeyError:
            raise ValidationFailed(
                f"Unknown app type {app_type!r}.", details={"type": [t.name for t in AppType]}
            ) from None
    if offers:
        name = offers.upper()
        if name not in SubscriptionType.__members__:
            raise ValidationFailed(
                f"Unknown plan {offers!r}.", details={"offers": list(SubscriptionType.__members__)}
            )
        statement = statement.where(
            sa.literal(name) == sa.func.any(MarketplaceListing.subscription_types)
        )
    if max_price is not None:
        statement = statement.where(MarketplaceListing.price <= max_price)
    if min_rating is not None:
        statement = statement.where(MarketplaceListing.rating >= min_rating)
    sort = (sort or "popularity").lower()
    if sort not in SORTS:
        raise ValidationFailed(f"sort must be one of {', '.join(SORTS)}.", details={"sort": SORTS})
    order = {
        "popularity": [
            sa.func.coalesce(AppMetrics.number_of_subscriptions, 0).desc(),
            MarketplaceListing.rating.desc(),
        ],
        "rating": [MarketplaceListing.rating.desc(), MarketplaceListing.rating_count.desc()],
        "price": [MarketplaceListing.price.asc()],
        "price_desc": [MarketplaceListing.price.desc()],
        "newest": [MarketplaceListing.created_at.desc()],
    }[sort]
    statement = statement.order_by(*order, MarketplaceListing.id)

    def ids_and_total():
        total = cached_count("marketplace", parts, statement)
        found = paginate(statement.with_only_columns(MarketplaceListing.id), page, per_page, total)
        return [str(i) for i in found.items], found.total, found.page, found.per_page

    parts = {
        "q": q, "type": app_type, "offers": offers, "max_price": max_price,
        "min_rating": min_rating, "sort": sort, "page": page, "per_page": per_page,
    }  # fmt: skip
    ids, total, page, per_page = cache.remember("marketplace", parts, ids_and_total)
    return Page(_load_listings(ids), total, page, per_page)


def _load_listings(ids: list[str]) -> list[MarketplaceListing]:
    """The listings with these ids, in this order, with what a card shows, in one query."""
    if not ids:
        return []
    rows = db.session.execute(
        _listing_cards_statement(), {"ids": [uuid.UUID(i) for i in ids]}
    ).scalars()
    by_id = {str(listing.id): listing for listing in rows}
    return [by_id[i] for i in ids if i in by_id]


def price_for(listing: MarketplaceListing, plan: SubscriptionType) -> tuple[Decimal, str | None]:
    """What one payment of ``plan`` costs, and its billing interval (None = one-off)."""
    if plan is SubscriptionType.ANNUAL:
        return listing.price * ANNUAL_MONTHS, "year"
    if plan is SubscriptionType.MONTHLY:
        return listing.price, "month"
    if plan is SubscriptionType.PAY_AS_YOU_GO:
        return listing.price, None
    return Decimal("0"), None


def plan_allowance(listing: MarketplaceListing, plan: SubscriptionType) -> int | None:
    if plan is SubscriptionType.TRIAL:
        return listing.trial_usage_limit or None
    if plan is SubscriptionType.PAY_AS_YOU_GO:
        return listing.paid_usage_limit or PAYG_DEFAULT_PACK
    return listing.paid_usage_limit


# -- reviews ----------------------------------------------------------------------------------


def can_review(user: User | None, app: QuantumApp) -> bool:
    """Only people who subscribed to (or downloaded) the app, never its developer."""
    if user is None or not getattr(user, "is_authenticated", False) or app.developer_id == user.id:
        return False
    subscribed = db.session.execute(
        sa.select(Subscription.id)
        .where(
            Subscription.user_id == user.id,
            Subscription.quantum_app_id == app.id,
            Subscription.status != SubscriptionStatus.PENDING,
        )
        .limit(1)
    ).first()
    if subscribed:
        return True
    downloaded = db.session.execute(
        sa.select(UsageAnalytics.id)
        .where(
            UsageAnalytics.user_id == user.id,
            UsageAnalytics.quantum_app_id == app.id,
            UsageAnalytics.endpoint.in_(DOWNLOAD_ENDPOINTS),
        )
        .limit(1)
    ).first()
    return downloaded is not None


def _review_fields(rating: Any, title: str | None, content: str | None):
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationFailed("rating must be a whole number of stars from 1 to 5.",
                               details={"rating": "1-5"})  # fmt: skip
    title, content = (title or "").strip(), (content or "").strip()
    if len(title) > 100:
        raise ValidationFailed("A review title has at most 100 characters.",
                               details={"title": "at most 100 characters"})  # fmt: skip
    if len(content) > 5000:
        raise ValidationFailed("A review has at most 5000 characters.",
                               details={"content": "at most 5000 characters"})  # fmt: skip
    return rating, title or None, content or None


def refresh_rating(app_id: uuid.UUID) -> tuple[float, int]:
    """Recount the app's rating from its reviews into the listing and app_metrics. The
    listing row is locked first so concurrent reviews recount one after the other."""
    listing = db.session.execute(
        sa.select(MarketplaceListing)
        .filter_by(quantum_app_id=app_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    average, count = db.session.execute(
        sa.select(sa.func.avg(Review.rating), sa.func.count(Review.id)).where(
            Review.quantum_app_id == app_id
        )
    ).one()
    rating = round(float(average or 0), 2)
    if listing is not None:
        listing.rating, listing.rating_count = rating, int(count)
    metrics.set_figures(app_id, average_rating=rating)
    db.session.flush()
    return rating, int(count)


def list_reviews(listing: MarketplaceListing, page: int = 1, per_page: int = 20) -> Page:
    statement = (
        sa.select(Review)
        .where(Review.quantum_app_id == listing.quantum_app_id)
        .options(joinedload(Review.user))
        .order_by(Review.created_at.desc(), Review.id)
    )
    return paginate(statement, page, per_page)


def own_review(user: User | None, listing: MarketplaceListing) -> Review | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.execute(
        sa.select(Review).filter_by(quantum_app_id=listing.quantum_app_id, user_id=user.id)
    ).scalar_one_or_none()


def add_review(user: User, listing: MarketplaceListing, *, rating: Any, title=None, content=None):
    app = listing.app
    if not can_review(user, app):
        raise Forbidden(
            "Only people who subscribed to or downloaded this app can review it (and not its "
            "provider). Start a trial first."
        )
    rating, title, content = _review_fields(rating, title, content)
    if own_review(user, listing) is not None:
        raise Conflict("You already reviewed this app; edit your review instead.")
    try:
        with db.session.begin_nested():
            review = Review(
                quantum_app_id=app.id, user_id=user.id, rating=rating, title=title, content=content
            )
            db.session.add(review)
    except sa.exc.IntegrityError:
        raise Conflict("You already reviewed this app; edit your review instead.") from None
    refresh_rating(app.id)
    from portal.notifications.models import NotificationType
    from portal.notifications.services import notify

    notify(
        app.developer_id,
        "Review received",
        f"{user.username} rated {app.name} {rating}/5" + (f": {title}" if title else "."),
        type=NotificationType.REVIEW,
        link=f"/marketplace/{listing.id}#reviews",
    )
    return review


def get_own_review(user: User, listing: MarketplaceListing, review_id: Any) -> Review:
    review = db.session.get(Review, _uuid(review_id, "review"))
    if (
        review is None
        or not policy.owns_review(user, review)
        or review.quantum_app_id != listing.quantum_app_id
    ):
        raise NotFound("You have no review with that id on this app.")
    return review


def update_review(review: Review, *, rating: Any, title=None, content=None) -> Review:
    review.rating, review.title, review.content = _review_fields(rating, title, content)
    db.session.flush()
    refresh_rating(review.quantum_app_id)
    return review


def delete_review(review: Review) -> None:
    app_id = review.quantum_app_id
    db.session.delete(review)
    db.session.flush()
    refresh_rating(app_id)


# -- subscriptions ----------------------------------------------------------------------------


def effective_status(sub: Subscription, now: datetime | None = None) -> SubscriptionStatus:
    """The status, with a passed end date read as EXPIRED (no sweeper needed)."""
    now = now or utcnow()
    if sub.status is SubscriptionStatus.ACTIVE and sub.end_date is not None and sub.end_date <= now:
        return SubscriptionStatus.EXPIRED
    return sub.status


def refresh_subscription_count(app_id: uuid.UUID) -> int:
    """app_metrics.number_of_subscriptions = the app's currently active subscriptions."""
    now = utcnow()
    count = db.session.execute(
        sa.select(sa.func.count(Subscription.id)).where(
            Subscription.quantum_app_id == app_id,
            Subscription.status == SubscriptionStatus.ACTIVE,
            sa.or_(Subscription.end_date.is_(None), Subscription.end_date > now),
        )
    ).scalar_one()
    metrics.set_figures(app_id, number_of_subscriptions=int(count))
    return int(count)


def _active_for(user: User, app_id: uuid.UUID) -> list[Subscription]:
    now = utcnow()
    return list(
        db.session.execute(
            sa.select(Subscription).where(
                Subscription.user_id == user.id,
                Subscription.quantum_app_id == app_id,
                Subscription.status.in_([SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]),
                sa.or_(Subscription.end_date.is_(None), Subscription.end_date > now),
            )
        ).scalars()
    )


def _check_open(listing: MarketplaceListing, user: User, plan: SubscriptionType) -> None:
    if listing.status is not MarketplaceListingStatus.ACTIVE:
        raise Conflict(
            f"{listing.app.name} is {listing.status.value.lower()} on the Marketplace and takes "
            "no new subscriptions right now."
        )
    if plan.name not in (listing.subscription_types or []):
        raise ValidationFailed(
            f"{listing.app.name} does not offer {plan.name}; it offers "
            f"{', '.join(listing.subscription_types or [])}.",
            details={"subscription_type": listing.subscription_types},
        )
    if policy.is_provider_of(user, listing.app):
        raise Conflict("You provide this app; run it with your own account instead.")


def _notify(user_id: uuid.UUID, title: str, message: str, link: str | None = None) -> None:
    from portal.notifications.models import NotificationType
    from portal.notifications.services import notify

    notify(user_id, title, message, type=NotificationType.SUBSCRIPTION, link=link)


def start_trial(user: User, listing: MarketplaceListing) -> Subscription:
    """A free trial: limited runs and/or days; one per user per app, ever."""
    _check_open(listing, user, SubscriptionType.TRIAL)
    app = listing.app
    earlier = db.session.execute(
        sa.select(Subscription).filter_by(
            user_id=user.id, quantum_app_id=app.id, subscription_type=SubscriptionType.TRIAL
        )
    ).scalar_one_or_none()
    if earlier is not None:
        raise Conflict(
            f"You already had a trial of {app.name} (started {earlier.start_date:%Y-%m-%d}); "
            "choose a paid plan to keep using it.",
            details={"subscription_id": str(earlier.id)},
        )
    if _active_for(user, app.id):
        raise Conflict(f"You already have an active subscription to {app.name}.")
    now = utcnow()
    allowance = plan_allowance(listing, SubscriptionType.TRIAL)
    end = now + timedelta(days=listing.trial_days) if listing.trial_days else None
    sub = Subscription(
        user_id=user.id,
        quantum_app_id=app.id,
        subscription_type=SubscriptionType.TRIAL,
        status=SubscriptionStatus.ACTIVE,
        start_date=now,
        end_date=end,
        rate=Decimal("0"),
        usage_limit=allowance,
        remaining_usage_count=allowance,
        usage_resets_at=None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(sub)
    except sa.exc.IntegrityError:  # a concurrent request started the trial first
        raise Conflict(f"You already had a trial of {app.name}.") from None
    refresh_subscription_count(app.id)
    _notify(
        user.id,
        "Trial started",
        f"Your trial of {app.name} is active"
        + (f": {allowance} runs" if allowance else "")
        + (f" until {end:%Y-%m-%d}" if end else "")
        + ". Create a key to run it.",
        link=f"/marketplace/subscriptions/{sub.id}",
    )
    return sub


def _customer_for(user: User, provider_name: str) -> str | None:
    """The buyer's customer id at this provider, from an earlier subscription."""
    rows = db.session.execute(
        sa.select(Subscription.stripe_customer_id)
        .where(Subscription.user_id == user.id, Subscription.stripe_customer_id.is_not(None))
        .order_by(Subscription.created_at.desc())
    ).scalars()
    for customer_id in rows:
        if customer_id.startswith("cus_local_") == (provider_name == "local"):
            return customer_id
    return None


def subscribe(
    user: User,
    listing: MarketplaceListing,
    plan: SubscriptionType | str,
    *,
    success_url: str,
    cancel_url: str,
) -> tuple[Subscription, CheckoutStart]:
    """Start a paid subscription: a PENDING row and a checkout session. It becomes ACTIVE
    only when the payment provider reports the payment (``portal.marketplace.payments``)."""
    if isinstance(plan, str):
        try:
            plan = SubscriptionType[plan.upper()]
        except KeyError:
            raise ValidationFailed(
                "subscription_type must be MONTHLY, ANNUAL or PAY_AS_YOU_GO.",
                details={"subscription_type": plan},
            ) from None
    if plan not in PAID_TYPES:
        raise ValidationFailed(
            "Use POST /marketplace/{id}/trial for a trial; subscribe takes MONTHLY, ANNUAL or "
            "PAY_AS_YOU_GO.",
            details={"subscription_type": plan.name},
        )
    _check_open(listing, user, plan)
    app = listing.app
    for current in _active_for(user, app.id):
        used_up_pack = (
            current.subscription_type is SubscriptionType.PAY_AS_YOU_GO
            and current.remaining_usage_count == 0
        )
        if current.subscription_type is not SubscriptionType.TRIAL and not used_up_pack:
            raise Conflict(
                f"You already have an active {current.subscription_type.name} subscription to "
                f"{app.name}; cancel it first to change plans.",
                details={"subscription_id": str(current.id)},
            )
    # A savepoint: a provider failure leaves no PENDING row behind, whoever commits later.
    with db.session.begin_nested():
        # Abandoned checkouts of this app are closed; the new one replaces them.
        db.session.execute(
            sa.update(Subscription)
            .where(
                Subscription.user_id == user.id,
                Subscription.quantum_app_id == app.id,
                Subscription.status == SubscriptionStatus.PENDING,
            )
            .values(status=SubscriptionStatus.CANCELLED, end_date=utcnow())
            .execution_options(synchronize_session=False)
        )
        amount, interval = price_for(listing, plan)
        sub = Subscription(
            user_id=user.id,
            quantum_app_id=app.id,
            subscription_type=plan,
            status=SubscriptionStatus.PENDING,
            start_date=utcnow(),
            rate=amount,
        )
        db.session.add(sub)
        db.session.flush()
        payments = provider()
        label = {"month": "per month", "year": "per year"}.get(interval or "", "run pack")
        checkout = payments.start_checkout(
            CheckoutRequest(
                subscription_id=sub.id,
                user_id=user.id,
                email=user.email,
                name=user.full_name or user.username,
                description=f"{app.name} — {plan.name.replace('_', ' ').lower()} ({label})",
                amount=amount,
                currency=listing.currency,
                interval=interval,
                success_url=success_url.replace("{SUBSCRIPTION_ID}", str(sub.id)),
                cancel_url=cancel_url,
                customer_id=_customer_for(user, payments.name),
            )
        )
        sub.checkout_session_id = checkout.session_id
        sub.stripe_customer_id = checkout.customer_id
        db.session.flush()
    log.info("checkout started", subscription_id=str(sub.id), provider=payments.name)
    return sub, checkout


def list_subscriptions(
    user: User, *, status: str | None = None, page: int = 1, per_page: int = 20
) -> Page:
    statement = (
        sa.select(Subscription)
        .where(Subscription.user_id == user.id)
        .options(joinedload(Subscription.app))
        .order_by(Subscription.created_at.desc(), Subscription.id)
    )
    if status:
        try:
            statement = statement.where(Subscription.status == SubscriptionStatus[status.upper()])
        except KeyError:
            raise ValidationFailed(
                "Unknown status.", details={"status": list(SubscriptionStatus.__members__)}
            ) from None
    return paginate(statement, page, per_page)


def get_subscription(user: User, sub_id: Any) -> Subscription:
    """The user's subscription; anyone else's is NotFound."""
    sub = db.session.get(Subscription, _uuid(sub_id, "subscription"))
    if sub is None or not policy.owns_subscription(user, sub):
        raise NotFound("You have no subscription with that id.")
    return sub


def get_by_checkout(user: User, session_id: str) -> Subscription:
    sub = db.session.execute(
        sa.select(Subscription).filter_by(checkout_session_id=session_id)
    ).scalar_one_or_none()
    if sub is None or not policy.owns_subscription(user, sub):
        raise NotFound("No such checkout.")
    return sub


def cancel_subscription(sub: Subscription) -> Subscription:
    """Cancel now: at the payment provider first (recurring plans), then here. Keys stop
    working at once; runs left are forfeited."""
    if sub.status in (SubscriptionStatus.CANCELLED, SubscriptionStatus.EXPIRED):
        raise Conflict(f"This subscription is already {sub.status.value.lower()}.")
    if sub.stripe_subscription_id:
        provider().cancel_subscription(sub.stripe_subscription_id, f"qh-cancel-{sub.id}")
    sub.status = SubscriptionStatus.CANCELLED
    sub.end_date = utcnow()
    db.session.flush()
    refresh_subscription_count(sub.quantum_app_id)
    return sub


# -- running the app --------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "never"


def refusal(sub: Subscription) -> PaymentRequired:
    """Why ``sub`` cannot run a job now, saying what is used up and when it resets."""
    status = effective_status(sub)
    details: dict[str, Any] = {
        "subscription_id": str(sub.id),
        "status": status.value,
        "usage_limit": sub.usage_limit,
        "remaining_usage_count": sub.remaining_usage_count,
        "resets_at": sub.usage_resets_at.isoformat() if sub.usage_resets_at else None,
    }
    trial = sub.subscription_type is SubscriptionType.TRIAL
    what = "trial" if trial else "subscription"
    if status is SubscriptionStatus.PENDING:
        message = "This subscription is waiting for its payment; finish the checkout first."
    elif status is SubscriptionStatus.PAST_DUE:
        message = (
            "The last payment for this subscription failed, so it cannot run jobs. Update "
            "the payment method; jobs resume once the invoice is paid."
        )
    elif status is SubscriptionStatus.CANCELLED:
        message = f"This {what} was cancelled on {_when(sub.end_date)}; subscribe again."
    elif status is SubscriptionStatus.EXPIRED:
        message = f"This {what} ended on {_when(sub.end_date)}; subscribe to keep running it."
    elif trial:
        message = (
            f"Your trial's {sub.usage_limit} runs are used up (it never resets); subscribe "
            "to a paid plan to keep running this app."
        )
    elif sub.subscription_type is SubscriptionType.PAY_AS_YOU_GO:
        message = f"Your pack of {sub.usage_limit} runs is used up; buy another pack."
    else:
        message = (
            f"This subscription's {sub.usage_limit} runs for the current period are used up; "
            f"they reset on {_when(sub.usage_resets_at)}."
        )
    return PaymentRequired(message, details=details, code="usage_exhausted")


def consume_run(sub: Subscription, key: SubscriptionKey | None = None) -> int | None:
    """Spend one run, atomically: a single conditional UPDATE that only succeeds while the
    subscription is active, not ended and has runs left. Returns the runs left (None =
    unlimited) or raises PaymentRequired saying why."""
    now = utcnow()
    row = db.session.execute(
        sa.update(Subscription)
        .where(
            Subscription.id == sub.id,
            Subscription.status == SubscriptionStatus.ACTIVE,
            sa.or_(Subscription.end_date.is_(None), Subscription.end_date > now),
            sa.or_(
                Subscription.remaining_usage_count.is_(None),
                Subscription.remaining_usage_count > 0,
            ),
        )
        .values(remaining_usage_count=Subscription.remaining_usage_count - 1)
        .returning(Subscription.remaining_usage_count)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        db.session.refresh(sub)
        raise refusal(sub)
    sa.orm.attributes.set_committed_value(sub, "remaining_usage_count", row[0])
    if key is not None and key.remaining_usage_count is not None:
        capped = db.session.execute(
            sa.update(SubscriptionKey)
            .where(SubscriptionKey.id == key.id, SubscriptionKey.remaining_usage_count > 0)
            .values(remaining_usage_count=SubscriptionKey.remaining_usage_count - 1)
            .returning(SubscriptionKey.remaining_usage_count)
            .execution_options(synchronize_session=False)
        ).first()
        if capped is None:
            raise PaymentRequired(
                f"The key {key.prefix}… has used up its own cap of runs; create another key "
                "for this subscription.",
                code="usage_exhausted",
                details={"key_id": str(key.id), "remaining_usage_count": 0},
            )
        sa.orm.attributes.set_committed_value(key, "remaining_usage_count", capped[0])
    return row[0]


def run_app(
    user: User,
    sub: Subscription,
    *,
    key: SubscriptionKey | None = None,
    inputs: dict[str, Any] | None = None,
    device: str | None = None,
    shots: int | None = None,
    run_mode: str = "ASYNC",
    tags: list[str] | None = None,
    notification_email: str | None = None,
):
    """Submit a job of the subscription's app (latest published version) with ``inputs``,
    spending one run; the job is enqueued once the unit of work commits."""
    from portal.execution.submission import submit_job

    if not policy.owns_subscription(user, sub):
        raise NotFound("You have no subscription with that id.")
    policy.check_key_covers(key, sub.quantum_app_id)
    version = latest_runnable_version(sub.app)
    # A savepoint: if anything below refuses, neither the job nor the spent run stays in the
    # session, whoever commits it later (e.g. an after-request hook).
    with db.session.begin_nested():
        job = submit_job(
            user,
            app_version=version,
            inputs=inputs or {},
            device=device or version.preferred_device_id or DEFAULT_DEVICE,
            shots=shots if shots is not None else DEFAULT_SHOTS,
            run_mode=run_mode,
            tags=tags,
            notification_email=notification_email,
            subscription=sub,
            subscription_key=key,
            name=f"{sub.app.name} {version.version_number}",
        )
        # After validation, so a bad input costs nothing; the UPDATE's row lock is then
        # held only until the request commits.
        consume_run(sub, key)
    return job


def active_subscription_for(user: User, listing: MarketplaceListing) -> Subscription | None:
    subs = _active_for(user, listing.quantum_app_id)
    return subs[0] if subs else None


def pending_subscription_for(user: User, listing: MarketplaceListing) -> Subscription | None:
    return db.session.execute(
        sa.select(Subscription)
        .filter_by(
            user_id=user.id,
            quantum_app_id=listing.quantum_app_id,
            status=SubscriptionStatus.PENDING,
        )
        .order_by(Subscription.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def listing_for_app(app_id: uuid.UUID) -> MarketplaceListing | None:
    return db.session.execute(
        sa.select(MarketplaceListing).filter_by(quantum_app_id=app_id)
    ).scalar_one_or_none()


def period_days(plan: SubscriptionType) -> int | None:
    return PERIOD_DAYS.get(plan)
