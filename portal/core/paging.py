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


def page_number(value: Any) -> int:
    """A page number from a page's URL: anything that is not a whole number is page 1, and
    it is bounded as ``bounded`` bounds it (the API refuses such values with a 422 instead)."""
    try:
        return min(MAX_PAGE, max(1, int(value or 1)))
    except (TypeError, ValueError):
        return 1


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


def paginate(
    statement, page: Any, per_page: Any, total: int | None = None, *, rows: bool = False
) -> Page:
    """Run ``statement`` for one page, with the total count of its rows (counted unless
    ``total`` is given). Items are the first column's objects, or whole rows (tuples) with
    ``rows=True``."""
    page, per_page = bounded(page, per_page)
    total = count(statement) if total is None else total
    result = db.session.execute(statement.limit(per_page).offset((page - 1) * per_page))
    items = [tuple(r) for r in result.all()] if rows else list(result.scalars().unique().all())
    return Page(items, total, page, per_page)


def of_list(items: list[Any], page: Any, per_page: Any) -> Page:
    """One page of a list already in memory (a user's few API keys, an app's versions)."""
    page, per_page = bounded(page, per_page, default_per_page=max(1, len(items)))
    start = (page - 1) * per_page
    return Page(items[start : start + per_page], len(items), page, per_page)
