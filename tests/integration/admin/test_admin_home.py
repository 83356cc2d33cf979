"""Issue 22 item 6: the admin home and its pages (all jobs with filters, revenue per app and
per provider by month, queue health), ADMIN only through ``accounts.policy``; the users
page counts every user."""

from datetime import timedelta
from decimal import Decimal

import pytest

from portal.accounts import policy
from portal.accounts.models import User
from portal.admin import services
from portal.billing import services as billing
from portal.core import heartbeats
from portal.core.db import utcnow
from portal.core.errors import Forbidden
from portal.core.extensions import db
from portal.execution.models import JobStatus
from portal.marketplace.models import SubscriptionType
from tests.factories.accounts import UserFactory
from tests.factories.apps import QuantumAppFactory, add_version
from tests.factories.billing import completed_job, subscription
from tests.factories.execution import JobFactory

PAGES = ["/admin/", "/admin/jobs", "/admin/revenue", "/admin/queue", "/admin/users"]


@pytest.mark.parametrize("path", PAGES)
def test_admin_pages_refuse_everyone_but_admins(client, login_as, path):
    assert client.get(path).status_code == 302  # to sign in
    login_as(UserFactory(provider=True))
    assert client.get(path).status_code == 403


def test_the_policy_decides_and_services_ask_it():
    user, admin = UserFactory(), UserFactory(admin=True)
    assert policy.may_administer(admin) and not policy.may_administer(user)
    assert not policy.may_administer(None)
    for call in (
        lambda: services.list_jobs(user, {}, 1, 20),
        lambda: services.revenue(user),
        lambda: services.queue_health(user),
    ):
        with pytest.raises(Forbidden):
            call()


def test_users_page_counts_every_user(client, login_as):
    admin = UserFactory(admin=True)
    for _ in range(3):
        UserFactory()
    total = db.session.query(User).count()
    login_as(admin)
    html = client.get("/admin/users").get_data(as_text=True)
    assert html.count('data-testid="user-row"') == total == 4
    assert "4 users." in html


def test_admin_home_links_to_every_admin_page(client, login_as):
    login_as(UserFactory(admin=True))
    html = client.get("/admin/").get_data(as_text=True)
    for path in PAGES[1:]:
        assert f'href="{path}"' in html
    assert 'data-testid="queue-health"' in html
    nav = client.get("/").get_data(as_text=True)
    assert 'href="/admin/"' in nav


def _app_job(user, app, status=JobStatus.COMPLETED, device="aer-simulator", name="j"):
    version = add_version(app, number=f"1.0.{len(app.versions or [])}")
    return JobFactory(user=user, status=status, app_version_id=version.id, device_id=device,
                      name=name)  # fmt: skip


def test_all_jobs_filter_by_state_device_user_and_app(client, login_as):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    app = QuantumAppFactory(name="Grover search")
    _app_job(alice, app, name="alice-grover")
    JobFactory(user=bob, status=JobStatus.QUEUED, device_id="fake-manila", name="bob-queued")
    JobFactory(user=bob, status=JobStatus.FAILED, device_id="aer-simulator", name="bob-failed")
    login_as(UserFactory(admin=True))

    def names(query):
        html = client.get(f"/admin/jobs{query}").get_data(as_text=True)
        return {n for n in ("alice-grover", "bob-queued", "bob-failed") if n in html}

    assert names("") == {"alice-grover", "bob-queued", "bob-failed"}
    assert names("?state=QUEUED") == {"bob-queued"}
    assert names("?state=queued") == {"bob-queued"}
    assert names("?device=manila") == {"bob-queued"}
    assert names("?user=bob") == {"bob-queued", "bob-failed"}
    assert names("?app=grover") == {"alice-grover"}
    assert names("?user=bob&state=FAILED") == {"bob-failed"}
    assert names("?state=NONSENSE") == {"alice-grover", "bob-queued", "bob-failed"}
    html = client.get("/admin/jobs?app=grover").get_data(as_text=True)
    assert "1 job." in html and "Grover search" in html


def test_revenue_per_app_and_provider_by_month(client, login_as):
    provider = UserFactory(username="pat")
    app_a = QuantumAppFactory(name="Alpha", developer=provider)
    app_b = QuantumAppFactory(name="Beta", developer=provider)
    buyer = UserFactory()
    subscription(buyer, app=app_a, rate="4.99")
    payg = subscription(buyer, app=app_b, plan=SubscriptionType.PAY_AS_YOU_GO, rate="0.50")
    completed_job(buyer, "0.00", subscription_id=payg.id)
    completed_job(buyer, "0.00", subscription_id=payg.id)
    completed_job(buyer, "1.00")  # a device fee, not an app's revenue
    billing.current_bill(buyer)
    month = utcnow().strftime("%Y-%m")
    admin = UserFactory(admin=True)
    by_app = services.revenue(admin, by="app")
    assert by_app.rows == [(month, "Alpha", Decimal("4.99")), (month, "Beta", Decimal("1.00"))]
    by_provider = services.revenue(admin, by="provider")
    assert by_provider.rows == [(month, "pat", Decimal("5.99"))]
    assert by_app.totals == [(month, Decimal("5.99"))]
    login_as(admin)
    html = client.get("/admin/revenue").get_data(as_text=True)
    assert 'data-testid="revenue-by-app"' in html and "Alpha" in html and "5.99" in html
    assert "<svg" in html


def test_queue_health_counts_ages_and_workers(client, login_as, app):
    user = UserFactory()
    JobFactory(user=user, status=JobStatus.QUEUED, queued_at=utcnow() - timedelta(minutes=5))
    JobFactory(user=user, status=JobStatus.QUEUED, queued_at=utcnow() - timedelta(minutes=1))
    JobFactory(user=user, status=JobStatus.RUNNING)
    from portal.core.queue import redis_connection

    redis = redis_connection()
    heartbeats.beat(redis, "host-a:123", alive_for=60)
    try:
        admin = UserFactory(admin=True)
        health = services.queue_health(admin)
        assert (health.queued, health.running) == (2, 1)
        assert 290 <= health.oldest_queued_seconds <= 400
        assert any(w["identity"] == "host-a:123" and w["alive"] for w in health.workers)
        login_as(admin)
        html = client.get("/admin/queue").get_data(as_text=True)
        assert "host-a:123" in html and 'data-testid="queued-count">2<' in html
        assert 'data-testid="running-count">1<' in html
    finally:
        heartbeats.forget(redis, "host-a:123")


def test_queue_health_without_redis_still_answers(monkeypatch):
    import portal.core.queue as queue

    def down():
        raise ConnectionError("redis down")

    monkeypatch.setattr(queue, "job_queue", down)
    health = services.queue_health(UserFactory(admin=True))
    assert health.queue_depth is None and health.workers == []
