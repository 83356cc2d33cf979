"""The mail interface: the outbox by default, SMTP when configured."""

from portal.core import mail
from portal.core.extensions import db


def test_outbox_keeps_messages(app, outbox):
    sent = mail.send_mail("a@example.com", "Hello", "Body")
    assert outbox() == []  # mail leaves once the unit of work commits, never before
    db.session.commit()
    assert outbox() == [sent]


def test_a_rolled_back_unit_of_work_sends_nothing(app, outbox):
    mail.send_mail("a@example.com", "Hello", "Body")
    db.session.rollback()
    db.session.commit()
    assert outbox() == []


def test_smtp_is_used_when_configured(app, outbox, monkeypatch):
    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            sent.append(("starttls",))

        def login(self, user, password):
            sent.append(("login", user))

        def send_message(self, message):
            sent.append(("send", message["To"], message["Subject"]))

    monkeypatch.setattr(mail.smtplib, "SMTP", FakeSMTP)
    monkeypatch.setitem(app.config, "SMTP_HOST", "smtp.example.com")
    monkeypatch.setitem(app.config, "SMTP_USERNAME", "portal")
    mail.send_mail("b@example.com", "Subject", "Text", html="<p>Text</p>")
    db.session.commit()
    assert sent == [
        ("connect", "smtp.example.com", 587),
        ("starttls",),
        ("login", "portal"),
        ("send", "b@example.com", "Subject"),
    ]
    assert outbox() == []
