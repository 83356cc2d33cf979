"""The bills API and pages, ownership, and the monthly budget (refusal and warning)."""

from datetime import timedelta
from decimal import Decimal

import pytest

from portal.billing import services
from portal.core.errors import PaymentRequired
from portal.core.extensions import db
from portal.execution.submission import submit_job
from portal.notifications.models import Notification, NotificationType
from tests.factories.accounts import UserFactory
from tests.factories.billing import completed_job, subscription
from tests.factories.execution import BELL_QASM2, HardwareFactory, JobFactory


def _closed_bill(user):
    start, _ = services.previous_period()
    completed_job(user, "2.00", finished_at=start + timedelta(days=2), name="api-job")
    return services.close_period().bill_ids[0]


def test_api_lists_and_shows_bills_with_lines(client, api_headers):
    user = UserFactory()
    bill_id = _closed_bill(user)
    subscription(user, rate="7.00")
    listing = client.get("/api/v1/bills", headers=api_headers(user))
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["total"] == 2 and body["page"] == 1
    periods = [b["payment_status"] for b in body["items"]]
    assert periods == ["OPEN", "PENDING"]  # this month first
    detail = client.get(f"/api/v1/bills/{bill_id}", headers=api_headers(user)).get_json()
    assert detail["total"] == "2.00" and detail["currency"] == "USD"
    (line,) = detail["items"]
    assert line["kind"] == "job" and line["job_id"] and line["amount"] == "2.00"
    assert detail["download_url"] == f"/api/v1/bills/{bill_id}/download"


def test_api_download_is_a_pdf_attachment(client, api_headers):
    user = UserFactory()
    bill_id = _closed_bill(user)
    response = client.get(f"/api/v1/bills/{bill_id}/download", headers=api_headers(user))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("suffix", ["", "/download"])
def test_api_another_users_bill_is_404(client, api_headers, suffix):
    bill_id = _closed_bill(UserFactory())
    response = client.get(f"/api/v1/bills/{bill_id}{suffix}", headers=api_headers(UserFactory()))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/bills/nope", headers=api_headers(UserFactory())).status_code == 404


def test_api_needs_credentials_and_bounds_paging(client, api_headers):
    assert client.get("/api/v1/bills").status_code == 401
    bad = client.get("/api/v1/bills?per_page=1000", headers=api_headers(UserFactory()))
    assert bad.status_code == 422


def test_pages_show_bills_lines_and_download(client, login_as):
    user = UserFactory()
    bill_id = _closed_bill(user)
    login_as(user)
    index = client.get("/billing")
    assert index.status_code == 200
    assert b"Bills" in index.data and b"PENDING" in index.data
    detail = client.get(f"/billing/{bill_id}")
    assert b"Job api-job on" in detail.data and b"Download invoice (PDF)" in detail.data
    assert b"(test)" in detail.data  # the local provider's pay button
    pdf = client.get(f"/billing/{bill_id}/invoice.pdf")
    assert pdf.mimetype == "application/pdf"
    paid = client.post(f"/billing/{bill_id}/pay", follow_redirects=True)
    assert b"Payment received" in paid.data and b"PAID" in paid.data


def test_pages_hide_other_users_bills(client, login_as):
    bill_id = _closed_bill(UserFactory())
    login_as(UserFactory())
    assert client.get(f"/billing/{bill_id}").status_code == 404
    assert client.get(f"/billing/{bill_id}/invoice.pdf").status_code == 404


def test_empty_billing_page_says_what_to_do(client, login_as):
    login_as(UserFactory())
    page = client.get("/billing")
    assert b"No budget set" in page.data
    current = client.get("/billing").data
    assert b"This month" in current


def test_budget_page_sets_clears_and_explains_errors(client, login_as):
    user = UserFactory()
    login_as(user)
    assert client.get("/billing/budget").status_code == 200
    saved = client.post("/billing/budget", data={"monthly_budget": "25.50"}, follow_redirects=True)
    assert b"Monthly budget set to 25.50" in saved.data
    assert user.monthly_budget == Decimal("25.50")
    bad = client.post("/billing/budget", data={"monthly_budget": "lots"})
    assert bad.status_code == 422 and b"amount like 50" in bad.data
    cleared = client.post("/billing/budget", data={"monthly_budget": ""}, follow_redirects=True)
    assert b"budget removed" in cleared.data and user.monthly_budget is None


def test_a_job_past_the_budget_is_refused_with_the_amount_left():
    user = UserFactory(monthly_budget=Decimal("1.00"))
    hardware = HardwareFactory(cost_per_job=Decimal("0.50"), cost_per_shot=Decimal("0.001"))
    completed_job(user, "0.30")
    JobFactory(user=user, estimated_cost=Decimal("0.20"))  # queued: reserved
    with pytest.raises(PaymentRequired) as refused:
        submit_job(user, program=BELL_QASM2, device=hardware.name, shots=100)
    assert refused.value.status == 402
    assert "only 0.50 USD is left" in refused.value.message
    assert refused.value.details["left"] == "0.50"
    assert refused.value.details["estimated_cost"] == "0.60"


def test_api_answers_402_for_a_job_past_the_budget(client, api_headers):
    user = UserFactory(monthly_budget=Decimal("0.00"))
    hardware = HardwareFactory()
    response = client.post(
        "/api/v1/jobs",
        json={"program": {"source": BELL_QASM2}, "device": hardware.name, "shots": 10},
        headers=api_headers(user),
    )
    assert response.status_code == 402, response.get_json()
    assert "budget" in response.get_json()["error"]["message"]


def test_budget_warning_at_80_percent_once_a_month(outbox):
    user = UserFactory(monthly_budget=Decimal("1.00"))  # default prefs e-mail budget warnings
    completed_job(user, "0.70")
    services.check_budget(user, Decimal("0.05"))  # 75 %: no warning
    assert db.session.query(Notification).filter_by(user_id=user.id).count() == 0
    services.check_budget(user, Decimal("0.10"))  # 80 %
    services.check_budget(user, Decimal("0.15"))  # still warned only once
    notes = db.session.query(Notification).filter_by(user_id=user.id).all()
    assert [(n.type, n.title) for n in notes] == [(NotificationType.BUDGET, "Budget warning")]
    db.session.commit()  # mail leaves with the commit
    assert [m.subject for m in outbox()] == ["Quantum Hub: Budget warning"]


def test_no_budget_means_no_limit():
    services.check_budget(UserFactory(), Decimal("1000000"))
