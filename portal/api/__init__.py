"""The versioned JSON API at /api/v1: one flask-smorest Api serving the domains' blueprints
(``portal.app`` lists them), one error envelope (``portal.core.errors``), and the docs page."""

from __future__ import annotations

import json

import marshmallow as ma
from flask import Flask, current_app, render_template, request

from portal.api import meta
from portal.core.errors import PortalError
from portal.core.extensions import api, csrf

PREFIX = "/api/v1"
# JSON bodies only, except routes that declare otherwise (package uploads, webhooks).
BODY_METHODS = {"POST", "PUT", "PATCH"}


class UnsupportedMediaType(PortalError):
    status, code = 415, "unsupported_media_type"


def check_body() -> None:
    """Refuse bodies the route cannot read before any view runs: 415 for a wrong content
    type, 400 with line and column for malformed JSON."""
    if not request.path.startswith(PREFIX + "/") or request.method not in BODY_METHODS:
        return
    raw = request.get_data(cache=True)
    if not raw:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    allowed = ("application/json", *getattr(view, "accepted_mimetypes", ()))
    if request.mimetype not in allowed and not request.mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"Send the body as {' or '.join(allowed)} (got {request.mimetype or 'no type'}).",
            details={"content_type": request.mimetype},
        )
    if request.is_json:
        try:
            # Strict UTF-8: json.loads(bytes) accepts surrogates encoded as bytes.
            json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise PortalError("The JSON body is not valid UTF-8.", code="malformed_json")
        except json.JSONDecodeError as exc:
            raise PortalError(
                f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
                code="malformed_json",
                details={"line": exc.lineno, "column": exc.colno},
            )
        except RecursionError:
            raise PortalError("The JSON body is nested too deeply.", code="malformed_json")


def decimal_as_string(self, field, **kwargs) -> dict:
    """apispec documents every Decimal as a number; money goes out as a string ("4.00")."""
    if isinstance(field, ma.fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal"}
    return {}


def docs_page():
    """Interactive docs from the vendored Swagger UI (no CDN)."""
    return render_template("api/docs.html", spec_url=PREFIX + "/openapi.json")


def init_app(app: Flask, blueprints) -> None:
    """Serve the domains' API ``blueprints`` (the factory lists them) under /api/v1."""
    api.init_app(app)
    api.ma_plugin.converter.add_attribute_function(decimal_as_string)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    api.spec.components.security_scheme(
        "apiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    )
    for blueprint in (meta.blp, *blueprints):
        api.register_blueprint(blueprint, url_prefix=PREFIX + blueprint.url_prefix)
        # The API authenticates with tokens and keys, never the session cookie, so
        # cross-site forgery does not apply to it.
        csrf.exempt(blueprint)
    app.before_request(check_body)
    app.add_url_rule(PREFIX + "/docs", "api_docs", docs_page)
