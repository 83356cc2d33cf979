"""Who may do what to quantum apps and their versions; the only place that decides (the
services, pages, API routes and the worker-facing execution services call it).

- see an app: anyone unless it is PRIVATE; a private app only its developer or an admin;
- change an app or its versions: its developer or an admin;
- run an app version: its developer (drafts included); anyone for a published (or
  deprecated, never draft or yanked) version of a PUBLIC app in the Registry; the holder of
  an active subscription covering the app (``portal.marketplace.runs.run_app`` passes
  the subscriber's own subscription; it is spent atomically only while active); nobody else;
- a job of an app version shows its program source to the app's developer only; anyone else
  sees "app X, version Y".
"""

from __future__ import annotations

from typing import Any

from portal.accounts.models import Role
from portal.apps.models import AppVersion, AppVisibility, QuantumApp, VersionStatus

RELEASED = (VersionStatus.PUBLISHED, VersionStatus.DEPRECATED)


def may_create_apps(user: Any) -> bool:
    """Creating (releasing) apps: a PROVIDER or an admin."""
    return user is not None and (user.has_role(Role.PROVIDER) or user.is_admin)


def is_developer(app: QuantumApp, user: Any) -> bool:
    return user is not None and getattr(user, "id", None) == app.developer_id


def can_manage(app: QuantumApp, user: Any) -> bool:
    return user is not None and (is_developer(app, user) or user.is_admin)


def can_view(app: QuantumApp, user: Any) -> bool:
    if app.visibility is not AppVisibility.PRIVATE:
        return True
    return can_manage(app, user)


def is_public_registry_app(app: QuantumApp) -> bool:
    return app.visibility is AppVisibility.PUBLIC and bool(app.is_in_registry)


def may_run_version(user: Any, version: AppVersion, subscription: Any = None) -> bool:
    """May ``user`` run ``version`` (``subscription``: the active subscription paying for the
    run, already checked by the marketplace policy)?"""
    app = version.app
    if is_developer(app, user):
        return True
    if version.status not in RELEASED:
        return False  # a draft (or a yanked version) runs for its developer only
    if subscription is not None and subscription.quantum_app_id == app.id:
        return getattr(subscription, "user_id", None) == getattr(user, "id", None)
    return version.status is VersionStatus.PUBLISHED and is_public_registry_app(app)


def may_read_source(user: Any, version: AppVersion) -> bool:
    """A job of an app version shows its OpenQASM program to the app's developer only;
    everyone else sees "app X, version Y" (a public package is read through its download)."""
    return is_developer(version.app, user)
