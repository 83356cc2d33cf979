"""The open-source Registry: public apps their developers published there. Anyone may browse,
read and download them; the listing searches, filters, sorts and pages in a fixed number of
queries however many apps are shown."""

from __future__ import annotations

import functools
import json
from typing import Any

import sqlalchemy as sa
from flask import g
from sqlalchemy.orm import joinedload

from portal.apps.models import AppVersion, AppVisibility, QuantumApp, VersionStatus
from portal.apps.services import (
    Page,
    _apply_filters,
    _apply_sort,
    _uuid,
    search_filter,
    sorted_versions,
)
from portal.core import cache
from portal.core.errors import NotFound, ValidationFailed
from portal.core.extensions import db
from portal.core.paging import PAGING, bounded, cached_count

SORTS = ("downloads", "newest", "rating", "name")


def registry_statement():
    return sa.select(QuantumApp).where(
        QuantumApp.is_in_registry.is_(True), QuantumApp.visibility == AppVisibility.PUBLIC
    )


def _int_or_none(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} must be a whole number.", details={name: "integer"})
    if number < 0:
        raise ValidationFailed(f"{name} cannot be negative.", details={name: "≥ 0"})
    return number


def browse(
    *,
    q: str | None = None,
    type: str | None = None,
    sdk: str | None = None,
    license: str | None = None,
    tag: str | None = None,
    min_qubits: Any = None,
    max_qubits: Any = None,
    sort: str | None = None,
    page: int = 1,
    per_page: int = 12,
) -> Page:
    """One page of Registry apps matching the search and filters."""
    sort = (sort or ("relevance" if q else "downloads")).lower()
    if sort not in (*SORTS, "relevance"):
        raise ValidationFailed(
            f"Unknown sort '{sort}'; use {', '.join(SORTS)}.",
            details={"sort": f"one of {', '.join(SORTS)}"},
        )
    statement = registry_statement()
    statement = _apply_filters(
        statement,
        type=type or None,
        sdk=sdk or None,
        tag=tag or None,
        license=license or None,
        min_qubits=_int_or_none(min_qubits, "min_qubits"),
        max_qubits=_int_or_none(max_qubits, "max_qubits"),
    )
    if q:
        statement = search_filter(statement, q)
    statement = _apply_sort(statement, sort, q)

    parts = {"q": q, "type": type, "sdk": sdk, "license": license, "tag": tag, "sort": sort,
             "min_qubits": min_qubits, "max_qubits": max_qubits}  # fmt: skip
    page, per_page = bounded(page, per_page)
    total = cached_count("registry", parts, statement)
    # A deep page sorts the whole catalogue like the first one does, so the ids of the
    # PAGES_PER_FETCH pages around it are fetched (and cached) with the same query.
    first = (page - 1) // PAGES_PER_FETCH * PAGES_PER_FETCH
    ids_statement = (
        statement.with_only_columns(QuantumApp.id)
        .limit(per_page * PAGES_PER_FETCH)
        .offset(first * per_page)
    )
    window = cache.remember(
        "registry",
        {**parts, "per_page": per_page, "from_page": first + 1},
        lambda: [str(i) for i in db.session.execute(ids_statement).scalars()],
    )
    start = (page - 1 - first) * per_page
    ids = window[start : start + per_page]
    # The unfiltered listing also shows the featured apps: load them in the same query.
    also = featured_ids() if not any(v for k, v in parts.items() if k not in PAGING) else []
    return Page(load_apps(ids, also=also), total, page, per_page)


PAGES_PER_FETCH = 10


def load_apps(ids: list[str], also: list[str] = ()) -> list[QuantumApp]:
    """The apps with these ids, in this order, with what a card shows, in one query.
    Apps loaded earlier in this request (``also`` loads a few more ahead) are not fetched
    again."""
    loaded = g.setdefault("qh_registry_apps", {})
    missing = [i for i in {*ids, *also} if i not in loaded]
    if missing:
        loaded.update(_fetch_apps(missing))
    return [loaded[i] for i in ids if i in loaded]


def _fetch_apps(ids: list[str]) -> dict[str, QuantumApp]:
    found = (
        db.session.execute(_cards_statement(), {"ids": [_uuid(i) for i in ids]}).unique().scalars()
    )
    return {str(app.id): app for app in found}


def featured_ids(limit: int = 4) -> list[str]:
    statement = (
        registry_statement()
        .where(QuantumApp.featured_in_registry.is_(True))
        .with_only_columns(QuantumApp.id)
        .order_by(QuantumApp.registry_published_at.desc())
        .limit(limit)
    )
    return cache.remember(
        "registry-featured",
        {"limit": limit},
        lambda: [str(i) for i in db.session.execute(statement).scalars()],
    )


def featured(limit: int = 4) -> list[QuantumApp]:
    return load_apps(featured_ids(limit))


# Built once: with four loader options, recomputing its SQLAlchemy cache key on every app
# page cost about as much as running it.
@functools.cache
def _app_page_statement():
    return (
        sa.select(QuantumApp)
        .where(QuantumApp.id == sa.bindparam("id"))
        .options(
            joinedload(QuantumApp.developer),
            joinedload(QuantumApp.latest_version),
            joinedload(QuantumApp.metrics),
            joinedload(QuantumApp.tags),  # one to three: one query rather than two
        )
    )


# What a card shows, for a page of apps, in one query (built once, like _app_page_statement()).
@functools.cache
def _cards_statement():
    return (
        sa.select(QuantumApp)
        .where(QuantumApp.id.in_(sa.bindparam("ids", expanding=True)))
        .options(
            joinedload(QuantumApp.developer),
            joinedload(QuantumApp.latest_version),
            joinedload(QuantumApp.metrics),
            joinedload(QuantumApp.tags),
        )
    )


def get_registry_app(app_id: Any, *, for_page: bool = False) -> QuantumApp:
    """A public Registry app; ``for_page`` also loads what the top of its page shows
    (developer, latest version, metrics, tags) in the same query."""
    if for_page:
        app = db.session.execute(_app_page_statement(), {"id": _uuid(app_id)}).unique().scalar()
    else:
        app = db.session.get(QuantumApp, _uuid(app_id))
    if app is None or not app.is_in_registry or app.visibility is not AppVisibility.PUBLIC:
        raise NotFound("No such app in the Registry.")
    return app


def visible_versions(app: QuantumApp) -> list[AppVersion]:
    """Released versions, newest first (drafts stay private to the developer)."""
    return [v for v in sorted_versions(app) if v.status is not VersionStatus.DRAFT]


def example_inputs(schema: dict[str, Any] | None) -> dict[str, Any]:
    examples = {"number": 0.5, "integer": 1, "boolean": True}
    properties = (schema or {}).get("properties", {})
    return {
        name: spec.get("default", examples.get(spec.get("type"), 0))
        for name, spec in properties.items()
    }


def example_job_request(base_url: str, version: AppVersion | None) -> str | None:
    """A curl command that submits a job running ``version`` with example inputs."""
    if version is None:
        return None
    body = {
        "app_version_id": str(version.id),
        "device": "aer-simulator",
        "shots": 1024,
        "inputs": example_inputs(version.input_schema),
    }
    return (
        f"curl -X POST {base_url.rstrip('/')}/api/v1/jobs \\\n"
        '  -H "X-API-Key: $QH_API_KEY" -H "Content-Type: application/json" \\\n'
        f"  -d '{json.dumps(body)}'"
    )
