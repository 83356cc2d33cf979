"""The PDF invoice of a bill, drawn with fpdf2 (pure Python, no system libraries).

The core PDF fonts only cover Latin-1, so text is reduced to it (``_latin1``) rather than
failing on a user's name with other characters; nothing is rounded here — the amounts are the
bill's lines and their sum.
"""

from __future__ import annotations

from fpdf import FPDF

from portal.billing import services
from portal.billing.models import UserBill


def _latin1(text: object) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def invoice_number(bill: UserBill) -> str:
    return f"QH-{bill.period_start:%Y%m}-{bill.id.hex[:8].upper()}"


def render_invoice(bill: UserBill, buyer, *, compress: bool = True) -> bytes:
    """The invoice as PDF bytes. ``compress=False`` keeps the text streams readable (tests)."""
    seller = services.seller()
    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    pdf.set_title(_latin1(f"Invoice {invoice_number(bill)}"))
    pdf.set_author(_latin1(seller["name"]))
    pdf.add_page()
    pdf.set_auto_page_break(auto=True, margin=15)

    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, "Invoice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    status = "draft - period still open" if bill.closed_at is None else bill.payment_status
    facts = [
        f"Invoice number: {invoice_number(bill)}",
        f"Period: {bill.period_start:%Y-%m-%d} to {bill.period_end:%Y-%m-%d} (UTC, end excluded)",
        f"Billing date: {bill.billing_date:%Y-%m-%d}",
        f"Due date: {bill.due_date:%Y-%m-%d}" if bill.due_date else "Due date: when closed",
        f"Status: {status}",
        f"Currency: {bill.currency}",
    ]
    for line in facts:
        pdf.cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    top = pdf.get_y()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(90, 5, "Seller", new_x="RIGHT", new_y="TOP")
    pdf.cell(0, 5, "Buyer", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    left = [seller["name"], seller["address"], seller["email"]]
    right = [buyer.full_name or buyer.username, buyer.username, buyer.email]
    for a, b in zip(left, right, strict=True):
        pdf.cell(90, 5, _latin1(a), new_x="RIGHT", new_y="TOP")
        pdf.cell(0, 5, _latin1(b), new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), top + 25))

    widths = (100, 22, 30, 30)
    pdf.set_font("Helvetica", "B", 9)
    for width, head in zip(
        widths, ("Description", "Quantity", "Unit price", "Amount"), strict=True
    ):
        pdf.cell(width, 7, head, border="B", align="L" if head == "Description" else "R")
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    if not bill.items:
        pdf.cell(0, 7, "No charges in this period.", new_x="LMARGIN", new_y="NEXT")
    for item in bill.items:
        quantity, unit = services.line_columns(item)
        unit = unit.replace("—", "-")
        text = _latin1(item.description)
        # A long description wraps: the number columns take the height of its lines.
        lines = pdf.multi_cell(widths[0], 5, text, dry_run=True, output="LINES")
        height = 5 * max(1, len(lines))
        x, y = pdf.get_x(), pdf.get_y()
        pdf.multi_cell(widths[0], 5, text, new_x="RIGHT", new_y="TOP")
        pdf.set_xy(x + widths[0], y)
        pdf.cell(widths[1], height, str(quantity), align="R")
        pdf.cell(widths[2], height, unit, align="R")
        pdf.cell(widths[3], height, f"{item.amount:.2f}", align="R")
        pdf.set_xy(x, y + height)
    pdf.ln(2)

    total = services.bill_total(bill)
    pdf.set_font("Helvetica", size=10)
    for label, value in (
        ("Paid", bill.paid_amount),
        ("Due", bill.pending_amount),
    ):
        pdf.cell(sum(widths[:3]), 6, label, align="R")
        pdf.cell(widths[3], 6, f"{value:.2f}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(sum(widths[:3]), 8, f"Total ({bill.currency})", align="R", border="T")
    pdf.cell(widths[3], 8, f"{total:.2f}", align="R", border="T", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(
        0,
        4,
        "Each line is rounded once, to cents, half up; the total is the sum of the lines. "
        "Job lines: per-job fee + shots x per-shot price + compute time x hourly price of the "
        "device. Subscription fees are prepaid through the subscription.",
    )
    return bytes(pdf.output())
