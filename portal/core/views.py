"""The home page and the pages that belong to no domain."""

from flask import Blueprint, abort, current_app, render_template

from portal.core.mail import outbox

bp = Blueprint("core", __name__)


@bp.get("/")
def home():
    return render_template("core/home.html")


@bp.get("/dev/outbox")
def dev_outbox():
    """Mail the portal would have sent, for development without SMTP (404 in production)."""
    if not current_app.config.get("DEV_OUTBOX_ENABLED") or current_app.config.get("SMTP_HOST"):
        abort(404)
    return render_template("core/outbox.html", messages=list(reversed(outbox())))
