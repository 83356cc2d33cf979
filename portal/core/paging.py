"""One way to page a list, for every domain's services, pages and API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from portal.core import cache
from portal.core.extensions import db

# A page number from a URL can be any size, and an OFFSET beyond bigint is a database error,
# not an empty page: both bounds are enforced here and in the API's argument schema.
MAX_PAGE = 100_000
MAX_PER_PAGE = 100


@dataclass
class Page:
    """One page of a list: the items, and enough to draw pagination."""

    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def bounded(page: Any, per_page: Any, default_per_page: int = 20) -> tuple[int, int]:
    """``page`` and ``per_page`` clamped to what the database can serve."""
    page = min(MAX_PAGE, max(1, int(page or 1)))
    per_page = min(MAX_PER_PAGE, max(1, int(per_page or default_per_page)))
    return page, per_page


def count(statement) -> int:
    """How many rows ``statement`` returns, whatever its order or paging."""
    return db.session.execute(
        sa.select(sa.func.count()).select_from(
            statement.order_by(None).limit(None).offset(None).subquery()
        )
    ).scalar_one()


# List parameters that only order or page the results: the total does not depend on them.
PAGING = ("sort", "page", "per_page")


def cached_count(name: str, parts: dict[str, Any], statement) -> int:
    """``count(statement)`` cached per search and filters (``parts`` without ``PAGING``), so
    every page and order of a listing shares one count (see portal/core/cache.py)."""
    filters = {k: v for k, v in parts.items() if k not in PAGING}
    return cache.remember(f"{name}-total", filters, lambda: count(statement))


def paginate(statement, page: Any, per_page: Any, total: int | None = None) -> Page:
    """Run ``statement`` for one page, with the total count of its rows (counted unless
    ``total`` is given)."""
    page, per_page = bounded(page, per_page)
    total = count(statement) if total is None else total
    items = db.session.execute(statement.limit(per_page).offset((page - 1) * per_page))
    return Page(list(items.scalars().unique().all()), total, page, per_page)
