"""In-app notifications: list, mark read / all read over HTMX, the unread badge, e-mail
when the user opted in, and ownership."""

from portal.core.extensions import db
from portal.notifications import services
from portal.notifications.models import Notification, NotificationType
from tests.factories.accounts import UserFactory

HX = {"HX-Request": "true"}


def test_notify_emails_only_opted_in_events(outbox):
    user = UserFactory(preferences={"email_events": ["job.completed"]})
    services.notify(user.id, "Job completed", "bell finished.", NotificationType.JOB, "/jobs/1")
    services.notify(user.id, "Job failed", "bell failed.", NotificationType.JOB)
    services.notify(user.id, "Hi", "x", event="review.received")
    assert outbox() == []  # mail leaves with the commit, never before
    db.session.commit()
    (mail,) = outbox()
    assert mail.to == user.email and mail.subject == "Quantum Hub: Job completed"
    assert "bell finished." in mail.text and "/jobs/1" in mail.text
    assert db.session.query(Notification).filter_by(user_id=user.id).count() == 3


def test_unverified_or_inactive_users_get_no_mail(outbox):
    unverified = UserFactory(email_verified_at=None)
    inactive = UserFactory(is_active=False)
    for user in (unverified, inactive):
        services.notify(user.id, "Payment failed", "x", NotificationType.PAYMENT)
    db.session.commit()
    assert outbox() == []


def test_badge_is_empty_at_zero_and_counts_unread(client, login_as):
    user = UserFactory()
    login_as(user)
    assert client.get("/notifications/badge").data.strip() == b""
    for i in range(3):
        services.notify(user.id, f"Note {i}", "text")
    badge = client.get("/notifications/badge", headers=HX).data
    assert b'data-testid="unread-count">3<' in badge


def test_list_mark_read_and_all_read(client, login_as):
    user = UserFactory()
    login_as(user)
    first = services.notify(user.id, "First", "one", link="/billing")
    services.notify(user.id, "Second", "two")
    page = client.get("/notifications")
    assert page.status_code == 200 and b"First" in page.data and b"Second" in page.data

    row = client.post(f"/notifications/{first.id}/read", headers=HX)
    assert b"is-read" in row.data and b'hx-swap-oob="innerHTML"' in row.data
    assert b'unread-count">1<' in row.data  # the badge follows without a reload
    assert services.unread_count(user) == 1

    unread = client.get("/notifications?unread=1", headers=HX)
    assert b"Second" in unread.data and b"First" not in unread.data

    all_read = client.post("/notifications/read-all", headers=HX)
    assert b"Mark read" not in all_read.data
    assert b'<span id="unread-badge" hx-swap-oob="innerHTML"></span>' in all_read.data
    assert services.unread_count(user) == 0


def test_mark_read_without_htmx_redirects(client, login_as):
    user = UserFactory()
    login_as(user)
    note = services.notify(user.id, "Open me", "x", link="/billing")
    opened = client.post(f"/notifications/{note.id}/read", data={"open": "1"})
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/billing")
    back = client.post("/notifications/read-all")
    assert back.status_code == 302


def test_another_users_notification_is_not_found(client, login_as):
    note = services.notify(UserFactory().id, "Private", "x")
    login_as(UserFactory())
    assert client.post(f"/notifications/{note.id}/read").status_code == 404


def test_empty_list_says_what_comes_here(client, login_as):
    login_as(UserFactory())
    assert b"No notifications yet" in client.get("/notifications").data
    assert b"Nothing unread" in client.get("/notifications?unread=1").data


def test_badge_template_global_renders_the_count(app, login_as, client):
    from flask import render_template_string
    from flask_login import login_user

    user = UserFactory()
    services.notify(user.id, "One", "x")
    with app.test_request_context():
        assert render_template_string("{{ notification_badge() }}") == ""
        login_user(user)
        assert 'unread-count">1<' in render_template_string("{{ notification_badge() }}")
