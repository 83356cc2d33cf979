"""Webhook JSON API: a job's deliveries (list, replay) and the caller's signing secret."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from portal.accounts.auth import api_auth
from portal.core.apidocs import error_responses
from portal.webhooks import services
from portal.webhooks.schemas import DeliveryListSchema, DeliverySchema, SecretSchema

deliveries_blp = Blueprint(
    "webhook_deliveries_api",
    __name__,
    url_prefix="/jobs",
    description="Webhook deliveries of a job (docs/webhooks.md)",
)
secret_blp = Blueprint(
    "webhook_secret_api",
    __name__,
    url_prefix="/webhook-secret",
    description="The secret that signs your webhook deliveries",
)
blueprints = [deliveries_blp, secret_blp]


@deliveries_blp.route("/<job_id>/deliveries")
@api_auth(scope="read")
@deliveries_blp.response(200, DeliveryListSchema)
@error_responses(deliveries_blp, 401, 403, 404)
def list_deliveries(job_id):
    """Every delivery attempt of one of your jobs, newest first"""
    return {"items": services.list_deliveries(g.actor, job_id)}


@deliveries_blp.route("/<job_id>/deliveries/<delivery_id>/replay", methods=["POST"])
@api_auth(scope="jobs")
@deliveries_blp.response(202, DeliverySchema)
@error_responses(deliveries_blp, 401, 403, 404)
def replay(job_id, delivery_id):
    """Send a delivery again (one attempt, sent by a worker; not retried)"""
    return services.replay(g.actor, job_id, delivery_id)


@secret_blp.route("")
class Secret(MethodView):
    @api_auth(scope="read")
    @secret_blp.response(200, SecretSchema)
    @error_responses(secret_blp, 401, 403)
    def get(self):
        """Your webhook signing secret (null until made: a job with a webhook_url or a
        rotation makes it)"""
        row = services.get_secret(g.api_user.id)
        if row is None:
            return {"secret": None, "updated_at": None}
        return row


@secret_blp.route("/rotate", methods=["POST"])
@api_auth(scope="full")
@secret_blp.response(200, SecretSchema)
@error_responses(secret_blp, 401, 403)
def rotate():
    """A new signing secret (the old one stops signing at once)"""
    return services.rotate_secret(g.actor, g.api_user.id)
