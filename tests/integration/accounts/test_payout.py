"""Providers' payout details: validated, encrypted at rest, shown masked, rotatable."""

import json

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from portal.accounts import services
from portal.core.errors import Forbidden, ValidationFailed
from portal.core.extensions import db
from tests.factories.accounts import UserFactory

GOOD_IBAN = "DE89 3704 0044 0532 0130 00"


def _stored(user) -> str:
    return db.session.execute(
        sa.text("SELECT payout_details FROM users WHERE id = :id"), {"id": user.id}
    ).scalar_one()


@pytest.mark.parametrize(
    "iban, valid",
    [(GOOD_IBAN, True), ("GB82WEST12345698765432", True), ("DE89370400440532013001", False),
     ("XX", False), ("DE89 3704 0044 0532 0130 0!", False)],
)  # fmt: skip
def test_iban_checksum(iban, valid):
    assert services.iban_is_valid(iban) is valid


def test_details_are_encrypted_in_the_database_and_masked_on_read():
    provider = UserFactory(provider=True)
    summary = services.set_payout_details(
        provider, account_holder="Pat Provider", iban=GOOD_IBAN, payout_email="pat@example.com"
    )
    assert summary == {
        "account_holder": "Pat Provider",
        "iban_masked": "•••• 3000",
        "payout_email": "pat@example.com",
    }
    raw = _stored(provider)
    assert "DE89" not in raw and "Pat Provider" not in raw
    db.session.expire(provider)
    assert json.loads(provider.payout_details)["iban"] == "DE89370400440532013000"


def test_consumers_have_no_payout_details():
    with pytest.raises(Forbidden):
        services.set_payout_details(
            UserFactory(), account_holder="Casey", iban=GOOD_IBAN, payout_email="c@example.com"
        )


def test_every_bad_field_is_named():
    with pytest.raises(ValidationFailed) as caught:
        services.set_payout_details(
            UserFactory(provider=True), account_holder="", iban="nope", payout_email="x"
        )
    assert set(caught.value.details) == {"account_holder", "iban", "payout_email"}


def test_payout_page_saves_and_shows_only_the_last_four(client, login_as):
    provider = UserFactory(provider=True)
    login_as(provider)
    page = client.post(
        "/settings/payout",
        data={"account_holder": "Pat", "iban": GOOD_IBAN, "payout_email": "p@example.com"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "•••• 3000" in page and "0532 0130" not in page
    bad = client.post(
        "/settings/payout", data={"account_holder": "Pat", "iban": "DE00", "payout_email": "x"}
    )
    assert bad.status_code == 422
    assert "not a valid IBAN" in bad.get_data(as_text=True)


def test_consumers_cannot_open_the_payout_page(client, login_as):
    login_as(UserFactory())
    assert client.get("/settings/payout").status_code == 403


def test_rotate_encryption_command_moves_values_to_the_new_key(app, monkeypatch):
    provider = UserFactory(provider=True)
    services.set_payout_details(
        provider, account_holder="Pat", iban=GOOD_IBAN, payout_email="p@example.com"
    )
    db.session.flush()
    before = _stored(provider)
    new_key = Fernet.generate_key().decode()
    old_keys = [k for k in (app.config.get("ENCRYPTION_KEYS") or "").split(",") if k]
    from portal.core import crypto

    monkeypatch.setitem(
        app.config,
        "ENCRYPTION_KEYS",
        ",".join([new_key, *(old_keys or [crypto.derive_key(app.config["SECRET_KEY"])])]),
    )
    monkeypatch.setitem(app.extensions, "qh_crypto", {})
    result = app.test_cli_runner().invoke(args=["rotate-encryption"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted" in result.output
    after = _stored(provider)
    assert after != before
    assert Fernet(new_key).decrypt(after.encode()).decode().startswith("{")
