"""Who may do what to projects and their files; the only place that decides.

A project (its files, IDE, analyses, builds, packages and releases) belongs to its owner
alone: anyone else -- admins included, projects hold unreleased work -- gets 404, as if it
did not exist. A subscription key reaches no project (``portal.accounts.policy``).
"""

from __future__ import annotations

from typing import Any


def may_use_project(user: Any, project: Any) -> bool:
    return user is not None and project.user_id == user.id
