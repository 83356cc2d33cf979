"""Notification pages: the list, mark read / all read (HTMX), and the unread badge fragment
the layout polls. Thin: parse, call services, commit, render."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from portal.accounts.auth import page_auth
from portal.core.extensions import htmx
from portal.core.paging import page_number
from portal.notifications import services

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
PER_PAGE = 20


def _list_context() -> dict:
    unread_only = request.values.get("unread") == "1"
    page = page_number(request.args.get("page"))
    result = services.list_notifications(
        current_user, unread_only=unread_only, page=page, per_page=PER_PAGE
    )
    return {
        "notifications": result.items,
        "total": result.total,
        "page": result.page,
        "pages": result.pages,
        "unread_only": unread_only,
        "unread": services.unread_count(current_user),
    }


@bp.get("")
@page_auth()
def index():
    context = _list_context()
    if htmx:
        return render_template("notifications/_list.html", oob_badge=True, **context)
    return render_template("notifications/index.html", **context)


@bp.get("/badge")
@page_auth()
def badge():
    """The unread count for the layout's bell (empty when there is nothing unread)."""
    return render_template("notifications/_badge.html", unread=services.unread_count(current_user))


@bp.post("/<uuid:notification_id>/read")
@page_auth()
def mark_read(notification_id):
    row = services.mark_read(current_user, notification_id)
    if htmx:
        return render_template(
            "notifications/_notification.html",
            note=row,
            oob_badge=True,
            unread=services.unread_count(current_user),
        )
    if request.form.get("open") and row.link and row.link.startswith("/"):
        return redirect(row.link)
    return redirect(url_for("notifications.index"))


@bp.post("/read-all")
@page_auth()
def mark_all_read():
    services.mark_all_read(current_user)
    if htmx:
        return render_template("notifications/_list.html", oob_badge=True, **_list_context())
    return redirect(url_for("notifications.index"))


@bp.app_template_global()
def notification_badge() -> Markup:
    """The badge's current content for the layout, so the first paint needs no request
    (the layout can then poll ``notifications.badge`` every 30 s only)."""
    if not getattr(current_user, "is_authenticated", False):
        return Markup("")
    html = render_template("notifications/_badge.html", unread=services.unread_count(current_user))
    return Markup(html)  # noqa: S704 - rendered by an autoescaping template just above
