"""Outgoing e-mail behind one small interface.

``send_mail(to, subject, text)`` goes through SMTP when ``QH_SMTP_HOST`` is set; otherwise
messages land in an in-memory outbox (per process, newest last, bounded) that tests read with
``outbox()`` and the development server shows at ``/dev/outbox`` (never in production).
"""

from __future__ import annotations

import smtplib
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage

import structlog
from flask import Flask, current_app

from portal.core.db import utcnow
from portal.core.uow import after_commit

log = structlog.get_logger("portal.mail")
OUTBOX_SIZE = 200


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    sent_at: datetime = field(default_factory=utcnow)


class OutboxMailer:
    """Keeps messages in memory: the offline default and what tests assert on."""

    def __init__(self) -> None:
        self.messages: deque[Mail] = deque(maxlen=OUTBOX_SIZE)
        self._lock = threading.Lock()

    def send(self, mail: Mail) -> None:
        with self._lock:
            self.messages.append(mail)
        log.info("mail kept in the dev outbox", to=mail.to, subject=mail.subject)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


class SmtpMailer:
    """Sends through the SMTP server named by ``QH_SMTP_*``."""

    def __init__(self, config) -> None:
        self.config = config

    def send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.config["MAIL_FROM"]
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
        with smtplib.SMTP(self.config["SMTP_HOST"], self.config["SMTP_PORT"], timeout=10) as smtp:
            if self.config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if self.config.get("SMTP_USERNAME"):
                smtp.login(self.config["SMTP_USERNAME"], self.config.get("SMTP_PASSWORD") or "")
            smtp.send_message(message)
        log.info("mail sent", to=mail.to, subject=mail.subject)


# One outbox per process, shared by every app instance (tests run a live server beside the
# test client; both must see the same messages).
_OUTBOX = OutboxMailer()


def mailer(app: Flask | None = None):
    app = app or current_app
    if app.config.get("SMTP_HOST"):
        return SmtpMailer(app.config)
    return _OUTBOX


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> Mail:
    """Send one message (SMTP or the outbox, chosen by configuration) once the current unit
    of work commits: a rolled-back sign-up or job never mails anyone."""
    mail = Mail(to=to, subject=subject, text=text, html=html)
    transport = mailer()
    after_commit(lambda: transport.send(mail))
    return mail


def outbox() -> list[Mail]:
    """Messages kept in the outbox, oldest first (empty when SMTP is configured)."""
    return list(_OUTBOX.messages)


def clear_outbox() -> None:
    _OUTBOX.clear()
