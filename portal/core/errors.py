"""Errors: the exceptions services raise, and one place that turns any error into the
API's envelope ``{"error": {"code", "message", "details"}}`` or a friendly HTML page."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import structlog
from flask import Flask, current_app, g, render_template, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
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
        names = sorted(str(k) for k in details) if isinstance(details, dict) else []
        message = (
            f"The request has invalid fields ({', '.join(names)[:200]}); see details."
            if names
            else "The request has invalid fields; see details."
        )
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


def handle_data_error(exc: DataError):
    """The last line, not the rule: every input is bounded before the database
    (docs/limits.md), so a value PostgreSQL refuses (too long, out of range) is a missing
    check to add, logged as such, and still a 422 for the user rather than a 500."""
    log.warning("value refused by the database", error=str(exc.orig).splitlines()[0][:200])
    rollback()
    message = "A value is too long or out of range; check the limits and retry."
    if is_api_request():
        return envelope(422, "validation_error", message)
    return _render_page(422, "Invalid input", message)


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):  # pragma: no cover - routed to its own handler
        return handle_http_exception(exc)
    log.exception("unhandled error", error=type(exc).__name__)
    rollback()  # the error page must not run on a failed transaction
    message = "Something went wrong on our side. The error was logged; please retry."
    if is_api_request():
        return envelope(500, "internal_error", message)
    return _render_page(500, "Server error", message)


# Text PostgreSQL cannot store: NUL (text columns refuse it) and lone UTF-16 surrogates
# (U+D800-U+DFFF: not encodable as UTF-8, so the driver fails). JSON's "\\ud800" escape
# decodes to one in Python.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Whole numbers whose float value overflows (|n| >= 2**1024) are refused in JSON bodies like
# NaN and Infinity (which Python's json accepts and 1e400 becomes): nothing here can use them.
FLOAT_LIMIT = 2**1024


def unstorable_text(value: str) -> str | None:
    """What is wrong with ``value`` as stored text (None when it can be stored)."""
    match = UNSTORABLE.search(value)
    if match is None:
        return None
    if match.group() == "\x00":
        return "a NUL character (\\u0000)"
    return f"a lone surrogate (\\u{ord(match.group()):04x}), which is not valid Unicode text"


def _number_problem(value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "a number that is not finite (NaN, Infinity or beyond 1e308)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= FLOAT_LIMIT:
        return "a number too large to use (beyond 1e308)"
    return None


def _bad_json_value(raw: bytes) -> tuple[str, str] | None:
    """(path, problem) of the first JSON string or key that cannot be stored, or number that
    cannot be used, walked without recursion. Bodies that do not parse are left to the API's
    body check (``portal.api.check_body``)."""
    try:
        # Strict UTF-8 first: json.loads(bytes) would let surrogates encoded as bytes through.
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    stack: list[tuple[str, Any]] = [("body", doc)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if problem := unstorable_text(value):
                return where, problem
        elif isinstance(value, dict):
            for key, item in value.items():
                if problem := unstorable_text(key):
                    return where, problem
                stack.append((f"{where}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        elif problem := _number_problem(value):
            return where, problem
    return None


def _bad_pairs(pairs) -> tuple[str, str] | None:
    for key, value in pairs:
        for text in (str(key), str(value)):
            if problem := unstorable_text(text):
                return str(key), problem
    return None


def reject_unstorable_input() -> None:
    """Text PostgreSQL cannot store (NUL, lone surrogates) and numbers nothing can use (NaN,
    Infinity, 1e400) are bad input everywhere: refused with 422 before any view runs, in
    query and path parameters, form fields and JSON bodies. Without this check they would
    surface as a 500 from deep in a query."""
    found = None
    for source, values in (("query parameter", request.args), ("path parameter", None)):
        pairs = (request.view_args or {}).items() if values is None else values.items(multi=True)
        if bad := _bad_pairs(pairs):
            found = (f"{source} {bad[0][:50]!r}", bad[1])
            break
    if found is None and request.method in {"POST", "PUT", "PATCH"}:
        form_types = ("application/x-www-form-urlencoded", "multipart/form-data")
        # API bodies are JSON (``check_body`` refuses others, and needs the raw stream).
        if request.mimetype in form_types and not is_api_request():
            if bad := _bad_pairs(request.form.items(multi=True)):
                found = (f"form field {bad[0][:50]!r}", bad[1])
        elif request.is_json and (bad := _bad_json_value(request.get_data(cache=True))):
            found = (f"JSON field {bad[0][:100]!r}", bad[1])
    if found:
        where, problem = found
        fix = "use a finite number in range" if "number" in problem else "remove it"
        raise ValidationFailed(
            f"The {where} contains {problem}; {fix} and retry.",
            details={"field": where, "problem": problem},
        )


# The hook's former name (it began as the NUL check).
reject_nul_characters = reject_unstorable_input


def init_app(app: Flask) -> None:
    app.before_request(reject_unstorable_input)
    app.register_error_handler(PortalError, handle_portal_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(DataError, handle_data_error)
    app.register_error_handler(Exception, handle_unexpected)
