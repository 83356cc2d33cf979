"""Marketplace reviews: who may review an app (subscribers and downloaders, never its
provider), one review per user per app, and the rating aggregates recounted on every change
(listing ``rating``/``rating_count`` and ``app_metrics.average_rating``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from portal.accounts.models import User
from portal.apps import metrics
from portal.apps.models import QuantumApp
from portal.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.paging import Page, paginate
from portal.marketplace import policy
from portal.marketplace.listings import as_uuid
from portal.marketplace.models import (
    MarketplaceListing,
    Review,
    Subscription,
    SubscriptionStatus,
)
from portal.notifications.models import NotificationType
from portal.notifications.services import notify

# Whether a user downloaded an app, (user id, app id) -> bool: analytics, which counts the
# downloads, registers its answer at app creation (``register_download_record``).
DOWNLOAD_RECORDS: list[Callable[[uuid.UUID, uuid.UUID], bool]] = []


def register_download_record(downloaded: Callable[[uuid.UUID, uuid.UUID], bool]) -> None:
    if downloaded not in DOWNLOAD_RECORDS:
        DOWNLOAD_RECORDS.append(downloaded)


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
    return any(downloaded(user.id, app.id) for downloaded in DOWNLOAD_RECORDS)


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

    notify(
        app.developer_id,
        "Review received",
        f"{user.username} rated {app.name} {rating}/5" + (f": {title}" if title else "."),
        type=NotificationType.REVIEW,
        link=f"/marketplace/{listing.id}#reviews",
    )
    return review


def get_own_review(user: User, listing: MarketplaceListing, review_id: Any) -> Review:
    review = db.session.get(Review, as_uuid(review_id, "review"))
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
