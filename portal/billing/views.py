"""Billing pages: the bill list, a bill with its lines and PDF, "Pay (test)", the budget.
Thin: parse, call services, commit, render."""

from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from portal.accounts.auth import page_auth
from portal.billing import pdf, services
from portal.core.errors import PortalError
from portal.core.paging import page_number
from portal.core.payments import LocalTestProvider, provider
from portal.core.web import flash_refusal

bp = Blueprint("billing", __name__, url_prefix="/billing")
PER_PAGE = 12


@bp.get("")
@page_auth()
def index():
    page = page_number(request.args.get("page"))
    result = services.list_bills(current_user, page, PER_PAGE)
    current = services.current_bill(current_user)
    spent = services.month_spend(current_user.id)
    return render_template(
        "billing/index.html",
        bills=result.items,
        total=result.total,
        page=result.page,
        pages=result.pages,
        current=current,
        spent=spent,
        budget=current_user.monthly_budget,
        bill_total=services.bill_total,
    )


@bp.get("/<uuid:bill_id>")
@page_auth()
def detail(bill_id):
    bill = services.get_bill(current_user, bill_id)
    return render_template(
        "billing/bill.html",
        bill=bill,
        total=services.bill_total(bill),
        number=pdf.invoice_number(bill),
        columns=services.line_columns,
        can_pay_locally=isinstance(provider(), LocalTestProvider)
        and bill.closed_at is not None
        and bill.payment_status in (services.PENDING, services.FAILED),
    )


@bp.get("/<uuid:bill_id>/invoice.pdf")
@page_auth()
def download(bill_id):
    bill = services.get_bill(current_user, bill_id)
    return send_file(
        io.BytesIO(pdf.render_invoice(bill, current_user)),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"{pdf.invoice_number(bill)}.pdf",
    )


@bp.post("/<uuid:bill_id>/pay")
@page_auth()
def pay(bill_id):
    services.get_bill(current_user, bill_id)  # another user's bill: 404, not a message
    try:
        services.pay_locally(current_user, bill_id)
    except PortalError as exc:
        flash_refusal(exc)
    else:
        flash("Payment received (test provider). Thank you.", "success")
    return redirect(url_for("billing.detail", bill_id=bill_id))


@bp.route("/budget", methods=["GET", "POST"])
@page_auth()
def budget():
    error = None
    value = request.form.get("monthly_budget", "")
    if request.method == "POST":
        try:
            services.set_monthly_budget(current_user, value)
        except PortalError as exc:
            error = exc.message
        else:
            if current_user.monthly_budget is None:
                flash("Monthly budget removed: jobs are no longer limited.", "success")
            else:
                flash(f"Monthly budget set to {current_user.monthly_budget}.", "success")
            return redirect(url_for("billing.budget"))
    elif current_user.monthly_budget is not None:
        value = str(current_user.monthly_budget)
    spent = services.month_spend(current_user.id)
    return render_template(
        "billing/budget.html",
        value=value,
        error=error,
        budget=current_user.monthly_budget,
        spent=spent,
        currency=services.CURRENCY,
        warn_percent=int(services.BUDGET_WARN_RATIO * 100),
    ), (422 if error else 200)
