"""Notifications: the one function other domains call to tell a user something, and the
rules of the in-app list (unread count, mark read).

``notify`` writes the in-app row and, when the user opted in for the event (preference
``email_events``, see ``portal.accounts.services.EMAIL_EVENTS``), sends the same message by
e-mail through ``portal.core.mail``. Callers should name the event (``event="job.failed"``);
older callers that do not are mapped from the notification's type and title
(``infer_event``) so their e-mails still go out.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa
import structlog
from flask import current_app, has_app_context

from portal.accounts.models import User
from portal.accounts.services import wants_email
from portal.core.db import utcnow
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.core.mail import send_mail
from portal.core.paging import Page, paginate
from portal.notifications.models import Notification, NotificationType

log = structlog.get_logger("portal.notifications")


def infer_event(type: NotificationType, title: str) -> str | None:
    """The e-mail event name of a notification created without one."""
    text = title.lower()
    if type is NotificationType.JOB:
        return "job.failed" if "fail" in text else "job.completed"
    if type is NotificationType.REVIEW:
        return "review.received"
    if type is NotificationType.BUDGET:
        return "budget.warning"
    if type is NotificationType.PAYMENT or ("payment" in text and "fail" in text):
        return "payment.failed"
    if type is NotificationType.SUBSCRIPTION:
        if "expir" in text:
            return "subscription.expiring"
        if "activ" in text or "started" in text:
            return "subscription.activated"
    return None


def _email(user, event: str, title: str, message: str, link: str | None) -> bool:
    """E-mail the notification when ``user`` (a User, or an object with its attributes) opted
    in; never fails the caller."""
    if user is None or not user.is_active or not user.email or user.email_verified_at is None:
        return False
    if not wants_email(user, event):
        return False
    base = current_app.config.get("BASE_URL", "").rstrip("/") if has_app_context() else ""
    lines = [f"Hello {user.full_name or user.username},", "", message]
    if link:
        lines += ["", f"Details: {base}{link}"]
    lines += [
        "",
        f"You receive this because e-mails for '{event}' are on in your settings "
        f"({base}/settings); turn them off there.",
    ]
    try:
        send_mail(user.email, f"Quantum Hub: {title}", "\n".join(lines))
    except Exception as exc:  # a mail server outage must not fail a job or a payment
        log.warning("notification e-mail failed", event=event, error=type(exc).__name__)
        return False
    return True


def _fields(user_id, title: str, message: str, type: NotificationType, link: str | None):
    return {"user_id": user_id, "title": title[:100], "message": message, "type": type,
            "link": link}  # fmt: skip


def notify(
    user_id: uuid.UUID,
    title: str,
    message: str,
    type: NotificationType = NotificationType.INFO,
    link: str | None = None,
    *,
    event: str | None = None,
) -> Notification:
    """Create an in-app notification for ``user_id`` (flushed, not committed) and e-mail it
    when the user opted in for ``event`` (inferred from type and title when not given)."""
    notification = Notification(**_fields(user_id, title, message, type, link))
    db.session.add(notification)
    db.session.flush()
    event = event or infer_event(type, title)
    if event:
        _email(db.session.get(User, user_id), event, title, message, link)
    return notification


# The notification of ``notification_write``: its parameters are prefixed ``n_``; its row
# comes ``FROM done`` (the caller's statement: one row, or none to write nothing).
NOTIFICATION_INSERT = (
    "INSERT INTO notifications (id, created_at, updated_at, user_id, title, message, type,"
    " read, link) SELECT :n_id, :n_now, :n_now, :n_user_id, :n_title, :n_message, :n_type,"
    " false, :n_link FROM done"
)


def notification_write(
    owner,
    title: str,
    message: str,
    type: NotificationType = NotificationType.INFO,
    link: str | None = None,
    *,
    event: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """``notify`` for a caller that writes the row in a statement of its own (a worker's
    finish: the job, its result and the notification in one round trip): the INSERT and its
    parameters, the caller runs it. ``owner`` is the user or an object with its attributes
    (``execution.lifecycle.Owner``): nothing is read. The e-mail is sent like ``notify``'s,
    once the caller's unit of work commits (``core.mail.send_mail``)."""
    fields = _fields(owner.id, title, message, type, link)
    event = event or infer_event(type, title)
    if event:
        _email(owner, event, title, message, link)
    params = {f"n_{name}": value for name, value in fields.items()}
    params.update(n_id=uuid.uuid4(), n_now=utcnow(), n_type=type.name)
    return NOTIFICATION_INSERT, params


# -- the in-app list -------------------------------------------------------------------------


def list_notifications(
    user, *, unread_only: bool = False, page: int = 1, per_page: int = 20
) -> Page:
    """The user's notifications, newest first."""
    query = sa.select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read.is_(False))
    return paginate(query.order_by(Notification.created_at.desc(), Notification.id), page, per_page)


# On every signed-in page (the badge): built once, so its SQLAlchemy cache key is reused.
@functools.cache
def _unread_statement():
    return (
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.user_id == sa.bindparam("user_id"), Notification.read.is_(False))
    )


def unread_count(user) -> int:
    return db.session.execute(_unread_statement(), {"user_id": user.id}).scalar_one()


def get_notification(user, notification_id: Any) -> Notification:
    """The user's notification; another user's (or a bad id) is NotFound."""
    try:
        key = uuid.UUID(str(notification_id))
    except ValueError:
        raise NotFound("No such notification.") from None
    row = db.session.get(Notification, key)
    if row is None or row.user_id != user.id:
        raise NotFound("No such notification.")
    return row


def mark_read(user, notification_id: Any) -> Notification:
    row = get_notification(user, notification_id)
    row.read = True
    db.session.flush()
    return row


def mark_all_read(user) -> int:
    """Mark every unread notification read in one UPDATE; returns how many changed."""
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == user.id, Notification.read.is_(False))
        .values(read=True, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
