"""Billing JSON API: /bills (thin: parse, call services, commit, render)."""

from __future__ import annotations

import io

from flask import g, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from portal.accounts.auth import api_auth
from portal.billing import pdf, services
from portal.billing.schemas import BillListArgs, BillPageSchema, BillSchema
from portal.core.apipaging import envelope

blp = Blueprint("bills_api", __name__, url_prefix="/bills", description="Bills and invoices")


@blp.route("")
class BillList(MethodView):
    @api_auth(scope="read")
    @blp.arguments(BillListArgs, location="query")
    @blp.response(200, BillPageSchema)
    @blp.alt_response(401, description="Missing or invalid credentials")
    def get(self, args):
        """Your bills, newest period first (this month's open bill is brought up to date)"""
        return envelope(services.list_bills(g.api_user, args["page"], args["per_page"]))


@blp.route("/<bill_id>")
class BillDetail(MethodView):
    @api_auth(scope="read")
    @blp.response(200, BillSchema)
    @blp.alt_response(401, description="Missing or invalid credentials")
    @blp.alt_response(404, description="No such bill, or not yours")
    def get(self, bill_id):
        """One bill with its lines; each line names the job or subscription it came from"""
        bill = services.get_bill(g.api_user, bill_id)
        return bill


@blp.route("/<bill_id>/download")
class BillDownload(MethodView):
    @api_auth(scope="read")
    @blp.response(200, description="The PDF invoice", content_type="application/pdf")
    @blp.alt_response(401, description="Missing or invalid credentials")
    @blp.alt_response(404, description="No such bill, or not yours")
    def get(self, bill_id):
        """The bill as a PDF invoice (seller, buyer, period, lines, totals, currency)"""
        bill = services.get_bill(g.api_user, bill_id)
        return send_file(
            io.BytesIO(pdf.render_invoice(bill, g.api_user)),
            mimetype="application/pdf",
            as_attachment=True,
            download_name=f"{pdf.invoice_number(bill)}.pdf",
        )
