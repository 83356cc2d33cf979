"""Who may see and replay a job's webhook deliveries, and manage a webhook secret; the only
place that decides.

- a job's deliveries (list, replay): whoever may see the job (``execution.policy``): its
  owner; anyone else gets 404, as for the job itself;
- a webhook secret: its user alone (the API routes act on the caller's own secret).
"""

from __future__ import annotations

from typing import Any

from portal.execution import policy as execution_policy


def may_see_deliveries(actor: Any, job: Any) -> bool:
    return execution_policy.may_see_job(actor, job)


may_replay = may_see_deliveries


def may_manage_secret(actor: Any, user_id: Any) -> bool:
    user = getattr(actor, "user", actor)
    return user is not None and user.id == user_id
