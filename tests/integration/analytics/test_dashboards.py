"""Dashboards: the consumer's spend, the provider's subscriptions and revenue, the admin's
portal figures, and the date-range picker."""

from decimal import Decimal

from portal.analytics import services
from portal.billing import services as billing
from portal.execution.models import JobStatus
from tests.factories.accounts import UserFactory
from tests.factories.apps import QuantumAppFactory
from tests.factories.billing import completed_job, subscription
from tests.factories.execution import JobFactory


def _world():
    provider = UserFactory(provider=True)
    app = QuantumAppFactory(developer=provider, name="Grover Search")
    consumer = UserFactory()
    sub = subscription(consumer, app=app, rate="19.00")
    completed_job(consumer, "1.50", subscription_id=sub.id)
    JobFactory(user=consumer)  # queued
    billing.current_bill(consumer)
    return provider, app, consumer, sub


def test_consumer_dashboard_figures():
    _provider, _app, consumer, sub = _world()
    data = services.consumer_dashboard(consumer, services.parse_range(None, None))
    assert data["totals"]["spend"] == Decimal("20.50")
    assert data["totals"]["jobs"] == 2
    (usage,) = data["subscriptions"]
    assert usage["subscription"].id == sub.id and usage["runs"] == 1
    assert usage["spend"] == Decimal("20.50")  # fee + the job run under it


def test_provider_dashboard_shows_subscriptions_and_revenue(client, login_as):
    provider, app, _consumer, _sub = _world()
    data = services.provider_dashboard(provider, services.parse_range(None, None))
    (row,) = data["apps"]
    assert row["app"].id == app.id and row["new_subscriptions"] == 1
    assert row["revenue"] == Decimal("19.00")  # the fee, not the device cost
    assert data["totals"]["revenue"] == Decimal("19.00")
    login_as(provider)
    page = client.get("/dashboard/provider")
    assert page.status_code == 200
    assert b"Grover Search" in page.data and b"19.00 USD" in page.data
    assert b"<svg" in page.data and b"<script" not in page.data.split(b"</head>")[1]


def test_admin_dashboard(client, login_as):
    _world()
    admin = UserFactory(admin=True)
    data = services.admin_dashboard(services.parse_range(None, None))
    states = dict(data["job_states"])
    assert states[JobStatus.COMPLETED.value] == 1 and states[JobStatus.QUEUED.value] == 1
    assert data["queue"]["queued"] == 1
    assert data["totals"]["revenue"] == Decimal("20.50")
    login_as(admin)
    page = client.get("/dashboard/admin")
    assert page.status_code == 200 and b"Jobs by state" in page.data


def test_consumer_page_and_range_errors(client, login_as):
    _provider, _app, consumer, _sub = _world()
    login_as(consumer)
    page = client.get("/dashboard")
    assert page.status_code == 200 and b"20.50 USD" in page.data
    bad = client.get("/dashboard?from=2025-03-10&to=2025-03-01")
    assert bad.status_code == 200 and b"swap them" in bad.data
    old = client.get("/dashboard?from=2001-01-01&to=2001-01-31")
    assert b"0.00 USD" in old.data and b"No data in this range" in old.data


def test_role_pages_are_refused_without_the_role(client, login_as):
    login_as(UserFactory())
    assert client.get("/dashboard/provider").status_code == 403
    assert client.get("/dashboard/admin").status_code == 403
