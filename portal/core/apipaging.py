"""The API's paging arguments and page envelope, shared by every list endpoint."""

from typing import Any

from marshmallow import Schema, fields, validate

from portal.core.inputs import Int
from portal.core.paging import MAX_PAGE, MAX_PER_PAGE, Page


class PageArgs(Schema):
    page = Int(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = Int(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageMeta(Schema):
    """Fields every page of results carries next to its ``items``."""

    total = fields.Integer(metadata={"example": 1})
    page = fields.Integer(metadata={"example": 1})
    per_page = fields.Integer(metadata={"example": 20})
    pages = fields.Integer(metadata={"example": 1})


def envelope(page: Page, items: list[Any] | None = None) -> dict[str, Any]:
    """The one page envelope every list endpoint answers with (``PageMeta`` + ``items``);
    ``items`` replaces the page's own where the endpoint shows them differently."""
    return {
        "items": page.items if items is None else items,
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": page.pages,
    }
