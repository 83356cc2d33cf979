"""Flask extensions, created unbound; ``create_app`` binds them with ``init_app``."""

import marshmallow as ma
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from portal.core.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()


class ErrorDetailSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "validation_error"})
    message = ma.fields.String(required=True, metadata={"example": "Say what to fix."})
    details = ma.fields.Raw(metadata={"description": "Per-field messages or extra context"})


class ErrorEnvelopeSchema(ma.Schema):
    """The one error body of the API (``portal.core.errors.envelope``)."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)


class PortalApi(Api):
    """flask-smorest's Api without its own error handlers: ``portal.api.errors`` answers
    every error under /api/v1 with one envelope and leaves HTML pages their error pages.
    The OpenAPI document describes that envelope for every error response."""

    ERROR_SCHEMA = ErrorEnvelopeSchema

    def _register_error_handlers(self):
        return None


api = PortalApi()
