"""How a domain's API routes describe themselves, the same way in every domain: the error
answers in the OpenAPI document, and bodies other than JSON (``portal.api.check_body``)."""

from __future__ import annotations

from flask_smorest import Blueprint

ERROR_DESCRIPTIONS = {
    400: "Malformed request (e.g. the JSON does not parse; line and column in details)",
    401: "Missing, invalid, expired or revoked credentials",
    402: "Nothing left to spend (the message says what is used up and when it resets)",
    403: "Not allowed: role, ownership or the API key's scope",
    404: "No such resource, or not yours",
    409: "Conflicts with the current state",
    413: "The body or file is too large",
    415: "The body is not JSON",
    422: "Invalid fields (details per field)",
    429: "Rate limit reached (see Retry-After)",
    503: "A dependency is unavailable; retry later",
}


def error_responses(blp: Blueprint, *statuses: int, descriptions: dict[int, str] | None = None):
    """Decorator: document ``statuses`` as error-envelope answers of a route; a domain may
    word a status more precisely through ``descriptions``."""
    wording = {**ERROR_DESCRIPTIONS, **(descriptions or {})}

    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, description=wording[status])(view)
        return view

    return decorate


def accepts(*mimetypes: str):
    """Let a route take bodies other than JSON (e.g. ``multipart/form-data``)."""

    def decorate(view):
        view.accepted_mimetypes = mimetypes
        return view

    return decorate
