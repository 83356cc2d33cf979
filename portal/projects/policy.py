"""Who may do what to projects and their files; the only place that decides.

A project (its files, IDE, analyses, builds, packages and releases) belongs to its owner
alone: anyone else -- admins included, projects hold unreleased work -- gets 404, as if it
did not exist. A subscription key reaches no project (``portal.accounts.policy``).

Forking ("Open in IDE"): a released version of a public Registry app, by anyone signed in;
the developer, any version of their own app.
"""

from __future__ import annotations

from typing import Any

from portal.apps import policy as apps_policy


def may_fork_version(user: Any, version: Any) -> bool:
    """Open an app version in the IDE (a new project of ``user`` with its package files):
    its developer, any version with a package; anyone signed in, a released version of a
    public Registry app (what they could download). Anyone else: 404."""
    if user is None or version is None:
        return False
    if apps_policy.is_developer(version.app, user):
        return True
    return version.status in apps_policy.RELEASED and apps_policy.is_public_registry_app(
        version.app
    )


def may_use_project(user: Any, project: Any) -> bool:
    return user is not None and project.user_id == user.id
