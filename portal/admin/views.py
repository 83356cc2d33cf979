"""Administration pages (role ADMIN): the users list with search, paging, activation and
roles. The rules are the accounts services; these views only parse and render."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.accounts import services
from portal.accounts.auth import page_auth
from portal.accounts.models import Role
from portal.core import uow
from portal.core.errors import NotFound, PortalError
from portal.core.web import FORM_ERROR_STATUS
from portal.extensions import htmx

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 20


def _user(user_id):
    user = services.user_by_id(user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


@bp.get("/users")
@page_auth(roles=(Role.ADMIN,))
def users():
    query = request.args.get("q", "").strip()
    page = _page_number()
    items, total = services.search_users(query, page, PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    context = {"users": items, "total": total, "page": page, "pages": pages, "q": query,
               "roles": [r.value for r in Role]}  # fmt: skip
    # The search box asks for just the table, so typing does not reload the page.
    template = "admin/_users_table.html" if htmx and htmx.target == "users-table" else None
    return render_template(template or "admin/users.html", **context)


def _row_response(user, error: str | None = None):
    if htmx:
        return render_template(
            "admin/_user_row.html", user=user, roles=[r.value for r in Role], error=error
        ), (FORM_ERROR_STATUS if error else 200)
    if error:
        uow.refuse()
        flash(error, "error")
    return redirect(url_for("admin.users", q=request.args.get("q", "")))


@bp.post("/users/<uuid:user_id>/active")
@page_auth(roles=(Role.ADMIN,))
def set_active(user_id):
    user = _user(user_id)
    try:
        services.set_active(current_user, user, request.form.get("active") == "1")
    except PortalError as exc:
        return _row_response(_user(user_id), exc.message)
    return _row_response(user)


@bp.post("/users/<uuid:user_id>/roles")
@page_auth(roles=(Role.ADMIN,))
def set_roles(user_id):
    user = _user(user_id)
    try:
        services.set_roles(current_user, user, request.form.getlist("roles"))
    except PortalError as exc:
        return _row_response(_user(user_id), exc.message)
    return _row_response(user)
