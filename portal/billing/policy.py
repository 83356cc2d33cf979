"""Who may do what to bills; the only place that decides.

A bill (its items, invoice PDF and payment) belongs to its user alone: anyone else's bill is
404 on every page, form and API operation (the pay form too), as if it did not exist. A
subscription key reaches no bill (``portal.accounts.policy``).
"""

from __future__ import annotations

from typing import Any


def may_use_bill(user: Any, bill: Any) -> bool:
    return user is not None and bill.user_id == user.id
