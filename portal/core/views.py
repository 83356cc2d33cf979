"""The home page and the pages that belong to no domain."""

from flask import Blueprint, render_template

bp = Blueprint("core", __name__)


@bp.get("/")
def home():
    return render_template("core/home.html")
