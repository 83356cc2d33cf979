"""Who may do what in the Marketplace; the only place that decides.

- change a listing: whoever listed it, the app's developer, or an admin;
- a subscription and its keys: its subscriber only (anyone else: 404);
- a review: its author only (404 otherwise);
- run a Marketplace app: the holder of an active subscription to it -- its owner signed in,
  or one of its keys (a key of another app's subscription is 403). "Active" is enforced
  atomically when the run is spent (``runs.consume_run``: active, not ended, runs left),
  in the same savepoint as the job, so a refused run writes nothing;
- a subscription key is no credential for anything else (``portal.accounts.policy``).
"""

from __future__ import annotations

from typing import Any

from portal.core.errors import Forbidden


def _signed_in(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", True)


def may_manage_listing(listing: Any, user: Any) -> bool:
    return _signed_in(user) and (
        listing.listed_by == user.id or listing.app.developer_id == user.id or user.is_admin
    )


def owns_subscription(user: Any, sub: Any) -> bool:
    return _signed_in(user) and sub.user_id == user.id


def owns_review(user: Any, review: Any) -> bool:
    return _signed_in(user) and review.user_id == user.id


def is_provider_of(user: Any, app: Any) -> bool:
    return _signed_in(user) and app.developer_id == user.id


def check_key_covers(key: Any, quantum_app_id: Any) -> None:
    """A subscription key runs its own subscription's app only."""
    if key is not None and key.subscription.quantum_app_id != quantum_app_id:
        raise Forbidden("This subscription key belongs to another app's subscription.")
