"""The open-source Registry: public apps their developers published there. Anyone may browse,
read and download them; the listing searches, filters, sorts and pages in a fixed number of
queries however many apps are shown."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from portal.apps.models import AppVersion, AppVisibility, QuantumApp, VersionStatus
from portal.apps.services import (
    Page,
    _apply_filters,
    _apply_sort,
    _uuid,
    list_options,
    paginate,
    search_filter,
)
from portal.core.errors import NotFound, ValidationFailed
from portal.extensions import db

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
    statement = registry_statement().options(*list_options())
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
    return paginate(_apply_sort(statement, sort, q), page, per_page)


def featured(limit: int = 4) -> list[QuantumApp]:
    statement = (
        registry_statement()
        .where(QuantumApp.featured_in_registry.is_(True))
        .options(*list_options())
        .order_by(QuantumApp.registry_published_at.desc())
        .limit(limit)
    )
    return list(db.session.execute(statement).scalars())


def get_registry_app(app_id: Any) -> QuantumApp:
    app = db.session.get(QuantumApp, _uuid(app_id))
    if app is None or not app.is_in_registry or app.visibility is not AppVisibility.PUBLIC:
        raise NotFound("No such app in the Registry.")
    return app


def visible_versions(app: QuantumApp) -> list[AppVersion]:
    """Released versions, newest first (drafts stay private to the developer)."""
    from portal.apps.services import sorted_versions

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
