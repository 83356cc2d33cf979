"""API root: what this server is and how it runs jobs."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from portal.core.queue import uses_queue

blp = Blueprint("meta", __name__, url_prefix="/", description="About this API")


class MetaSchema(Schema):
    name = fields.String(metadata={"example": "Quantum Hub API"})
    version = fields.String(metadata={"example": "v1"})
    execution_mode = fields.String(
        metadata={"description": "`queue` (Redis + workers) or `inline` (embedded default)"}
    )
    openapi = fields.String(metadata={"example": "/api/v1/openapi.json"})
    docs = fields.String(metadata={"example": "/api/v1/docs"})


@blp.route("/")
class Meta(MethodView):
    @blp.response(200, MetaSchema)
    def get(self):
        """Describe the API"""
        return {
            "name": current_app.config["API_TITLE"],
            "version": current_app.config["API_VERSION"],
            "execution_mode": "queue" if uses_queue() else "inline",
            "openapi": "/api/v1/openapi.json",
            "docs": "/api/v1/docs",
        }
