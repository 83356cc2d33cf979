"""Marketplace listings: what an app's provider offers (plans, prices, allowances), publishing
and changing a listing, finding one, and browsing the active ones.

Services take plain values and ``db.session``, flush and never commit (the request commits).

Plans: the listing's ``price`` is the monthly price. MONTHLY charges it every month, ANNUAL
charges ``ANNUAL_MONTHS`` x price every year (two months free), PAY_AS_YOU_GO charges it once
for a pack of ``paid_usage_limit`` runs (``PAYG_DEFAULT_PACK`` when unlimited). Recurring plans
allow ``paid_usage_limit`` runs per period (NULL = unlimited) and refill when the period renews.
A TRIAL is free, limited by ``trial_usage_limit`` runs and/or ``trial_days``.
"""

from __future__ import annotations

import functools
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.apps import metrics
from portal.apps import services as apps_services
from portal.apps.models import (
    AppMetrics,
    AppType,
    AppVersion,
    AppVisibility,
    QuantumApp,
    VersionStatus,
)
from portal.apps.services import search_filter
from portal.core import cache
from portal.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.inputs import INT_MAX, URL_CHARS, bounded_text, whole_number
from portal.core.paging import Page, cached_count, paginate
from portal.marketplace import policy
from portal.marketplace.models import (
    MarketplaceListing,
    MarketplaceListingStatus,
    SubscriptionType,
)

PAID_TYPES = (SubscriptionType.MONTHLY, SubscriptionType.ANNUAL, SubscriptionType.PAY_AS_YOU_GO)
CURRENCIES = ("USD", "EUR", "GBP", "CHF", "CAD", "AUD", "JPY")
ANNUAL_MONTHS = 10
PAYG_DEFAULT_PACK = 100
PERIOD_DAYS = {SubscriptionType.MONTHLY: 30, SubscriptionType.ANNUAL: 365}
SORTS = ("popularity", "rating", "price", "price_desc", "newest")
MAX_TRIAL_USAGE = 1_000_000  # runs in a trial
MAX_TRIAL_DAYS = 365


def as_uuid(value: Any, what: str) -> uuid.UUID:
    """``value`` as a UUID; a malformed id is a NotFound naming ``what`` (as an unknown one)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"No {what} with id {value!r}.") from None


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
    key = as_uuid(ident, "listing")
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
        and not policy.may_manage_listing(listing, viewer)
    ):
        raise NotFound("No such listing on the Marketplace.", details={"id": str(ident)})
    return listing


def get_listing_for_change(ident: Any, user: User) -> MarketplaceListing:
    listing = get_listing(ident, user)
    if not policy.may_manage_listing(listing, user):
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


def listing_for_app(app_id: uuid.UUID) -> MarketplaceListing | None:
    return db.session.execute(
        sa.select(MarketplaceListing).filter_by(quantum_app_id=app_id)
    ).scalar_one_or_none()


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


def period_days(plan: SubscriptionType) -> int | None:
    return PERIOD_DAYS.get(plan)
