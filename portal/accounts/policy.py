"""Who may do what to accounts: users, sessions, API keys; and which credential may call
which API operation (``check_credential``). The only place that decides; services, pages and
API routes call it.

Credentials and their scopes (the table of what each may do: docs/authorization.md):
browser session and JWT: read + jobs + full; API key: its scopes ("read" < "jobs" < "full");
subscription key: only "subscription" -- it runs its app and reads or cancels the jobs it
started, and every other operation answers 403 ``subscription_key_not_allowed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portal.accounts.credentials import SUBSCRIPTION_KEY
from portal.core.errors import Forbidden

if TYPE_CHECKING:
    from portal.accounts.auth import Actor
    from portal.accounts.models import User, UserApiKey, UserSession

# The code every refusal of a subscription key outside its app carries.
SUBSCRIPTION_KEY_REFUSED = "subscription_key_not_allowed"


def check_credential(actor: Actor, scope: str, *, subscription_key: bool = False) -> None:
    """May this credential call an operation that needs ``scope``? Raises 403 when not.

    A subscription key reaches only the operations marked for it (run its app, its jobs);
    what it may touch there is the execution and marketplace policies' call."""
    if actor.kind == SUBSCRIPTION_KEY:
        if not subscription_key:
            raise Forbidden(
                "A subscription key only runs its app and reads or cancels the jobs it "
                "started; sign in or use a personal API key for this.",
                code=SUBSCRIPTION_KEY_REFUSED,
            )
        return
    if not actor.grants(scope):
        key = actor.api_key
        raise Forbidden(
            f"This API key lacks the '{scope}' scope; create a key that has it.",
            details={"needed_scope": scope, "key_scopes": list(key.scopes) if key else []},
        )


def may_see_user(actor: User | None, user: User) -> bool:
    """A user's account, profile, preferences and sessions: themself, or an admin."""
    return actor is not None and (actor.id == user.id or actor.is_admin)


def may_administer(actor: User | None) -> bool:
    """The admin pages (home, users, all jobs, revenue, queue health): admins only."""
    return actor is not None and bool(getattr(actor, "is_admin", False))


def check_admin(actor: User | None) -> None:
    if not may_administer(actor):
        raise Forbidden("This needs the ADMIN role.")


def may_change_admin_fields(actor: User) -> bool:
    """Roles and activation: admins only."""
    return actor.is_admin


def may_use_session(actor: User, row: UserSession) -> bool:
    return row.user_id == actor.id


def may_use_api_key(actor: User, key: UserApiKey) -> bool:
    """Keys belong to their owner alone: an admin manages users, not their secrets."""
    return key.user_id == actor.id
