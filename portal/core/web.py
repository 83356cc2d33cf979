"""What every page gets: navigation, dates in the reader's time zone, CSRF for HTMX."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, current_app, url_for
from flask_login import current_user

# (label, endpoint) shown when the endpoint exists, so the menu grows with the domains.
NAV_ITEMS = [
    ("Registry", "registry.browse"),
    ("Marketplace", "marketplace.browse"),
    ("Projects", "projects.index"),
    ("Jobs", "jobs.index"),
    ("Devices", "hardware.index"),
    ("Billing", "billing.index"),
    ("API", "api_docs"),
]


def nav_items() -> list[tuple[str, str, str]]:
    """(label, url, endpoint) for each navigation entry whose page is installed."""
    return [
        (label, url_for(endpoint), endpoint)
        for label, endpoint in NAV_ITEMS
        if endpoint in current_app.view_functions
    ]


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def user_timezone() -> ZoneInfo:
    name = "UTC"
    if getattr(current_user, "is_authenticated", False):
        name = (current_user.preferences or {}).get("timezone") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def format_datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """A timestamp in the signed-in user's time zone (UTC for visitors)."""
    if value is None:
        return "—"
    return value.astimezone(user_timezone()).strftime(fmt)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.globals.update(nav_items=nav_items, has_endpoint=has_endpoint)
