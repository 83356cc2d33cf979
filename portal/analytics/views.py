"""Dashboards (consumer, provider, admin) with a date-range picker, and the hook that counts
API-key requests into usage_analytics. Thin: parse the range, call services, render."""

from __future__ import annotations

import structlog
from flask import Blueprint, g, render_template, request
from flask_login import current_user

from portal.accounts.auth import page_auth
from portal.accounts.models import Role
from portal.analytics import services
from portal.analytics.charts import bar_chart
from portal.analytics.counters import count_api_request
from portal.billing.services import current_bill
from portal.core.errors import PortalError
from portal.core.uow import unit_of_work

bp = Blueprint("analytics", __name__, url_prefix="/dashboard")
log = structlog.get_logger("portal.analytics")


def _range():
    """The picker's range, or the default one with the message that explains the problem."""
    try:
        return services.parse_range(request.args.get("from"), request.args.get("to")), None
    except PortalError as exc:
        return services.parse_range(None, None), exc.message


def _render(template: str, **context):
    period, error = context.pop("period"), context.pop("error")
    return render_template(template, period=period, range_error=error, chart=bar_chart, **context)


@bp.get("")
@page_auth()
def index():
    """The consumer's dashboard: spend, jobs, usage per subscription."""
    period, error = _range()
    current_bill(current_user)  # this month's charges are counted before they are shown
    data = services.consumer_dashboard(current_user, period)
    return _render("analytics/consumer.html", period=period, error=error, data=data)


@bp.get("/provider")
@page_auth(roles=(Role.PROVIDER,))
def provider():
    period, error = _range()
    data = services.provider_dashboard(current_user, period)
    return _render("analytics/provider.html", period=period, error=error, data=data)


@bp.get("/admin")
@page_auth(roles=(Role.ADMIN,))
def admin():
    period, error = _range()
    data = services.admin_dashboard(period)
    return _render("analytics/admin.html", period=period, error=error, data=data)


@bp.after_app_request
def count_api_key_request(response):
    """Every API request made with a key adds one to the caller's usage for the day, refused
    ones too. This runs after the request's unit of work has ended, so the count is its own
    small one (or, usually, an increment buffered in Redis)."""
    key = g.get("api_key")
    user = g.get("api_user")
    if key is None or user is None or response.status_code >= 500:
        return response

    rule = request.url_rule.rule if request.url_rule else request.path
    try:
        with unit_of_work():
            count_api_request(user.id, f"{request.method} {rule}")
    except Exception as exc:  # counting must never break the answer
        log.warning("usage not recorded", error=type(exc).__name__)
    return response
