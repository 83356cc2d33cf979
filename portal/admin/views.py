"""Administration pages (role ADMIN): the admin home, the users list with search, paging,
activation and roles, every job with filters, revenue per app and per provider by month, and
the queue's health. The rules are the accounts and admin services (``accounts.policy``
decides); these views only parse and render."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.accounts import services
from portal.accounts.auth import page_auth
from portal.accounts.models import Role
from portal.admin import services as admin_services
from portal.analytics.charts import bar_chart
from portal.core import uow
from portal.core.errors import NotFound, PortalError
from portal.core.extensions import htmx
from portal.core.paging import page_number
from portal.core.web import FORM_ERROR_STATUS
from portal.execution.models import JobStatus

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 20


def _user(user_id):
    user = services.user_by_id(user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


@bp.get("/")
@page_auth(roles=(Role.ADMIN,))
def home():
    health = admin_services.queue_health(current_user)
    return render_template("admin/home.html", health=health)


@bp.get("/jobs")
@page_auth(roles=(Role.ADMIN,))
def jobs():
    filters = admin_services.job_filters(request.args)
    page = page_number(request.args.get("page"))
    result = admin_services.list_jobs(current_user, filters, page, PER_PAGE)
    return render_template(
        "admin/jobs.html",
        rows=result.items,
        total=result.total,
        page=result.page,
        pages=result.pages,
        filters=filters,
        states=[s.value for s in JobStatus],
        devices=admin_services.devices(current_user),
    )


@bp.get("/revenue")
@page_auth(roles=(Role.ADMIN,))
def revenue():
    by_app = admin_services.revenue(current_user, by="app")
    by_provider = admin_services.revenue(current_user, by="provider")
    chart = bar_chart(by_app.totals, "Revenue per month", money=True)
    return render_template(
        "admin/revenue.html", by_app=by_app, by_provider=by_provider, chart=chart
    )


@bp.get("/queue")
@page_auth(roles=(Role.ADMIN,))
def queue():
    return render_template("admin/queue.html", health=admin_services.queue_health(current_user))


@bp.get("/users")
@page_auth(roles=(Role.ADMIN,))
def users():
    query = request.args.get("q", "").strip()
    page = page_number(request.args.get("page"))
    result = services.search_users(query, page, PER_PAGE)
    context = {"users": result.items, "total": result.total, "page": result.page,
               "pages": result.pages, "q": query,
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
