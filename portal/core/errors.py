"""Errors: the exceptions services raise, and one place that turns any error into the
API's envelope ``{"error": {"code", "message", "details"}}`` or a friendly HTML page."""

from __future__ import annotations

import json
from typing import Any

import structlog
from flask import Flask, current_app, g, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from portal.core.uow import rollback

log = structlog.get_logger("portal.errors")


class PortalError(Exception):
    """A rule was broken. Services raise these with a message that says what to fix;
    views and API routes never need to translate them."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}
        if code:
            self.code = code


class Unauthorized(PortalError):
    status, code = 401, "unauthorized"


class PaymentRequired(PortalError):
    status, code = 402, "payment_required"


class Forbidden(PortalError):
    status, code = 403, "forbidden"


class NotFound(PortalError):
    status, code = 404, "not_found"


class Conflict(PortalError):
    status, code = 409, "conflict"


class PayloadTooLarge(PortalError):
    status, code = 413, "payload_too_large"


class ValidationFailed(PortalError):
    status, code = 422, "validation_error"


class RateLimited(PortalError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **kwargs):
        headers = {"Retry-After": str(max(1, int(retry_after)))}
        headers.update(kwargs.pop("headers", None) or {})
        super().__init__(message, headers=headers, **kwargs)
        self.retry_after = retry_after


class ServiceUnavailable(PortalError):
    status, code = 503, "service_unavailable"


# Short machine codes for HTTP errors raised by Flask/werkzeug itself.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def envelope(status: int, code: str, message: str, details: Any = None, headers=None):
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return body, status, headers or {}


def _render_page(status: int, title: str, message: str, headers=None):
    template = f"errors/{status}.html" if status in (403, 404, 500, 503) else "errors/error.html"
    return (
        render_template(template, status=status, title=title, message=message),
        status,
        (headers or {}),
    )


def handle_portal_error(exc: PortalError):
    if is_api_request():
        return envelope(exc.status, exc.code, exc.message, exc.details, exc.headers)
    return _render_page(
        exc.status, exc.code.replace("_", " ").capitalize(), exc.message, exc.headers
    )


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    data = getattr(exc, "data", None) or {}
    details: Any = {}
    message = exc.description or exc.name
    if status == 422 and "messages" in data:
        # webargs/marshmallow validation: field -> messages, flattened per location.
        messages = data["messages"]
        details = messages.get("json", messages) if isinstance(messages, dict) else messages
        message = "The request has invalid fields; see details."
    elif status == 405:
        message = f"{request.method} is not allowed here. Allowed: {headers.get('Allow', '')}."
    headers.update(data.get("headers") or {})
    if is_api_request():
        return envelope(
            status,
            HTTP_CODES.get(status, exc.name.lower().replace(" ", "_")),
            message,
            details,
            headers,
        )
    return _render_page(status, exc.name, exc.description or exc.name, headers)


def handle_database_down(exc: DBAPIError):
    """A lost database is an outage, not a bug: 503 and a reason, and the pool recovers."""
    log.error("database unavailable", error=type(exc.orig).__name__ if exc.orig else str(exc))
    rollback()
    message = "The database is unavailable right now. Please retry in a moment."
    if is_api_request():
        return envelope(503, "service_unavailable", message, headers={"Retry-After": "5"})
    # The layout would load the signed-in user and their unread count from the database that
    # just failed (an error inside this handler is a 500): render it as for a visitor.
    g._login_user = current_app.login_manager.anonymous_user()
    return _render_page(503, "Service unavailable", message, {"Retry-After": "5"})


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):  # pragma: no cover - routed to its own handler
        return handle_http_exception(exc)
    log.exception("unhandled error", error=type(exc).__name__)
    rollback()  # the error page must not run on a failed transaction
    message = "Something went wrong on our side. The error was logged; please retry."
    if is_api_request():
        return envelope(500, "internal_error", message)
    return _render_page(500, "Server error", message)


def _nul_in_json(raw: bytes) -> str | None:
    """The path of the first JSON string (or key) holding NUL, walked without recursion.
    Bodies that do not parse are left to the API's body check (``portal.api.check_body``)."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    stack: list[tuple[str, Any]] = [("body", doc)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return where
        elif isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return where
                stack.append((f"{where}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return None


def reject_nul_characters() -> None:
    """Text with NUL (U+0000) is bad input everywhere: PostgreSQL cannot store it in text
    columns, so without this check it would surface as a 500 from deep in a query."""
    where = None
    for source, values in (("query", request.args), ("path", request.view_args or {})):
        for key, value in values.items(multi=True) if source == "query" else values.items():
            if "\x00" in str(key) or "\x00" in str(value):
                where = f"{source} parameter {str(key)[:50]!r}"
                break
        if where:
            break
    if where is None and request.method in {"POST", "PUT", "PATCH"}:
        form_types = ("application/x-www-form-urlencoded", "multipart/form-data")
        # API bodies are JSON (``check_body`` refuses others, and needs the raw stream).
        if request.mimetype in form_types and not is_api_request():
            for key, value in request.form.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    where = f"form field {key[:50]!r}"
                    break
        elif request.is_json:
            path = _nul_in_json(request.get_data(cache=True))
            where = path and f"JSON field {path[:100]!r}"
    if where:
        raise ValidationFailed(
            f"The {where} contains a NUL character (\\u0000); remove it and retry.",
            details={"nul_character": where},
        )


def init_app(app: Flask) -> None:
    app.before_request(reject_nul_characters)
    app.register_error_handler(PortalError, handle_portal_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(Exception, handle_unexpected)
