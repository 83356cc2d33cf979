"""What every page gets: navigation, dates in the reader's time zone, CSRF for HTMX."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, Response, current_app, flash, has_request_context, request, url_for
from flask_login import current_user

from portal.core import uow
from portal.core.cache import template_csrf_token

# A form re-rendered with its errors answers this status, so its unit of work is rolled back;
# htmx is configured (base.html) to swap it like a success.
FORM_ERROR_STATUS = 422


def flash_refusal(exc) -> None:
    """Show a refused action's message on the page the view redirects to, and roll the
    request back: a refusal stores nothing."""
    uow.refuse()
    flash(exc.message, "error")


# (label, endpoint, who sees it) shown when the endpoint exists, so the menu grows with the
# domains: None = everyone, "user" = signed-in users, "PROVIDER"/"ADMIN" = that role.
NAV_ITEMS = [
    ("Registry", "registry.browse", None),
    ("Marketplace", "marketplace.browse", None),
    ("Projects", "projects.index", "user"),
    ("Jobs", "jobs.index", "user"),
    ("Devices", "hardware.index", None),
    ("My apps", "apps.mine", "PROVIDER"),
    ("Billing", "billing.index", "user"),
    ("Dashboard", "analytics.index", "user"),
    ("Admin", "admin.home", "ADMIN"),
    ("API", "api_docs", None),
]


def _may_see(audience: str | None) -> bool:
    if audience is None:
        return True
    if not getattr(current_user, "is_authenticated", False):
        return False
    return audience == "user" or current_user.has_role(audience)


def nav_items() -> list[tuple[str, str, str]]:
    """(label, url, endpoint) for each navigation entry whose page is installed and that
    the current visitor may use."""
    return [
        (label, url_for(endpoint), endpoint)
        for label, endpoint, audience in NAV_ITEMS
        if endpoint in current_app.view_functions and _may_see(audience)
    ]


# A value made only of these characters is the same in a URL's path and query: no converter
# or query encoding of werkzeug's changes it.
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]+")
_SLOT = "QhUrlSlot7e3f"


class UrlPattern:
    """``url_for(endpoint, **{key: value}, **values)`` for many values of one key, built once:
    a list page links each of its rows. A value that URL encoding would change (or an
    endpoint whose converter does not take the placeholder) goes through ``url_for``, so the
    output is always exactly what ``url_for`` gives."""

    __slots__ = ("endpoint", "key", "parts", "values")

    def __init__(self, endpoint: str, key: str, values: dict) -> None:
        self.endpoint, self.key, self.values = endpoint, key, values
        try:
            parts = url_for(endpoint, **{key: _SLOT}, **values).split(_SLOT)
        except Exception:  # the converter refused the placeholder (an int, a uuid)
            parts = []
        self.parts = parts if len(parts) == 2 else None

    def __call__(self, value) -> str:
        text = str(value)
        if self.parts is not None and _URL_SAFE.fullmatch(text):
            return self.parts[0] + text + self.parts[1]
        return url_for(self.endpoint, **{self.key: value}, **self.values)


def url_pattern(endpoint: str, key: str, **values) -> UrlPattern:
    return UrlPattern(endpoint, key, values)


def has_endpoint(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def user_timezone() -> ZoneInfo:
    """The signed-in reader's zone (UTC for visitors), worked out once per request: a list
    page formats dozens of timestamps."""
    if not has_request_context():
        return _timezone()
    zone = request.environ.get("qh.timezone")
    if zone is None:
        zone = request.environ["qh.timezone"] = _timezone()
    return zone


def _timezone() -> ZoneInfo:
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


def content_security_policy() -> str:
    """Only the portal's own scripts run (no inline code, no eval); inline styles are allowed
    because Swagger UI and htmx's indicators set style attributes."""
    return _csp(stripe_checkout=bool(current_app.config.get("STRIPE_SECRET_KEY")))


@functools.cache  # built once: it is sent with every response
def _csp(*, stripe_checkout: bool) -> str:
    form_action = "'self'"
    if stripe_checkout:
        form_action += " https://checkout.stripe.com"  # Stripe Checkout redirects after POST
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            f"form-action {form_action}",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure or current_app.config["ENV_NAME"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def init_app(app: Flask) -> None:
    app.after_request(security_headers)
    app.jinja_env.filters["datetime"] = format_datetime

    app.jinja_env.globals.update(
        nav_items=nav_items,
        has_endpoint=has_endpoint,
        csrf_token=template_csrf_token,
        url_pattern=url_pattern,
    )
    # Flask-WTF also passes its own ``csrf_token`` to every render; this one comes later.
    app.context_processor(lambda: {"csrf_token": template_csrf_token})
