import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from portal import create_app
from portal.config import ConfigError, load_config
from portal.core import crypto
from portal.core.errors import ServiceUnavailable
from tests.conftest import make_config


def _app(keys: list[str]):
    return create_app(make_config(ENCRYPTION_KEYS=",".join(keys)))


def test_round_trip_and_ciphertext_hides_the_value():
    with _app([Fernet.generate_key().decode()]).app_context():
        token = crypto.encrypt("IBAN DE89 3704 0044 0532 0130 00")
        assert "DE89" not in token
        assert crypto.decrypt(token) == "IBAN DE89 3704 0044 0532 0130 00"


def test_rotation_keeps_old_data_readable_then_moves_it_to_the_new_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with _app([old]).app_context():
        token = crypto.encrypt("payout details")
    with _app([new, old]).app_context():
        assert crypto.decrypt(token) == "payout details"  # old key still decrypts
        rotated = crypto.rotate(token)
    with _app([new]).app_context():
        assert crypto.decrypt(rotated) == "payout details"  # old key retired
        with pytest.raises(ServiceUnavailable):
            crypto.decrypt(token)


def test_rotate_all_re_encrypts_every_encrypted_column(own_database, tmp_path):
    metadata = sa.MetaData()
    vault = sa.Table(
        "vault",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("secret", crypto.EncryptedText),
    )
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    engine = sa.create_engine(url)
    metadata.create_all(engine)
    with _app([old]).app_context(), engine.begin() as conn:
        conn.execute(vault.insert(), [{"id": 1, "secret": "a"}, {"id": 2, "secret": None}])
    with _app([new, old]).app_context(), sa.orm.Session(engine) as session:
        assert crypto.rotate_all(session, metadata) == 1
        session.commit()
    with _app([new]).app_context(), engine.connect() as conn:
        assert conn.execute(sa.select(vault.c.secret).where(vault.c.id == 1)).scalar() == "a"


def test_default_key_is_derived_from_the_secret_key(tmp_path):
    config = load_config(tmp_path, env={"QH_SECRET_KEY": "s" * 40})
    assert crypto.keys_from_config(config) == [crypto.derive_key("s" * 40)]


def test_bad_keys_are_refused_at_start_up(tmp_path):
    with pytest.raises(ConfigError, match="Fernet"):
        load_config(tmp_path, env={"QH_ENCRYPTION_KEYS": "short"})
