import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from portal import create_app
from portal.config import ConfigError, load_config, normalise_database_url
from portal.core import crypto
from portal.core.errors import ServiceUnavailable
from tests.conftest import database_url, make_config, redis_url

SERVERS = {"QH_DATABASE_URL": database_url(), "QH_REDIS_URL": redis_url()}


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


def test_rotate_all_re_encrypts_every_encrypted_column(own_database):
    metadata = sa.MetaData()
    vault = sa.Table(
        "vault",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("secret", crypto.EncryptedText),
        prefixes=["TEMPORARY"],  # this connection's own table, gone when it closes
    )
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    engine = sa.create_engine(normalise_database_url(database_url()))
    try:
        with engine.connect() as conn:
            metadata.create_all(conn)
            with _app([old]).app_context():
                conn.execute(vault.insert(), [{"id": 1, "secret": "a"}, {"id": 2, "secret": None}])
            with _app([new, old]).app_context(), sa.orm.Session(conn) as session:
                assert crypto.rotate_all(session, metadata) == 1
                session.commit()
            with _app([new]).app_context():
                query = sa.select(vault.c.secret).where(vault.c.id == 1)
                assert conn.execute(query).scalar() == "a"
            conn.rollback()
    finally:
        engine.dispose()


def test_default_key_is_derived_from_the_secret_key(tmp_path):
    config = load_config(tmp_path, env={**SERVERS, "QH_SECRET_KEY": "s" * 40})
    assert crypto.keys_from_config(config) == [crypto.derive_key("s" * 40)]


def test_bad_keys_are_refused_at_start_up(tmp_path):
    with pytest.raises(ConfigError, match="Fernet"):
        load_config(tmp_path, env={**SERVERS, "QH_ENCRYPTION_KEYS": "short"})
