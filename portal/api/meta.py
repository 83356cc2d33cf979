"""API root: what this server is and how it runs jobs."""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("meta", __name__, url_prefix="/", description="About this API")


class MetaSchema(Schema):
    name = fields.String(metadata={"example": "Quantum Hub API"})
    version = fields.String(metadata={"example": "v1"})
    execution_mode = fields.String(
        metadata={"description": "Always `queue`: jobs go through Redis to worker processes"}
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
            "execution_mode": "queue",
            "openapi": "/api/v1/openapi.json",
            "docs": "/api/v1/docs",
        }
