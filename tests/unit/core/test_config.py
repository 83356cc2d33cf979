import pytest

from portal.config import ConfigError, load_config, normalise_database_url


def test_defaults_are_embedded(tmp_path):
    config = load_config(tmp_path, env={})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'quantum_hub.db'}"
    assert config["REDIS_URL"] is None
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert len(config["SECRET_KEY"]) == 64


def test_dev_secret_key_is_kept_between_starts(tmp_path):
    first = load_config(tmp_path, env={})["SECRET_KEY"]
    assert load_config(tmp_path, env={})["SECRET_KEY"] == first


def test_environment_variables_are_read(tmp_path):
    config = load_config(
        tmp_path,
        env={
            "QH_DATABASE_URL": "postgresql://u@db/qh",
            "QH_REDIS_URL": "redis://cache:6379/0",
            "QH_SECRET_KEY": "x" * 40,
            "QH_BCRYPT_ROUNDS": "13",
        },
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/qh"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
    assert config["BCRYPT_ROUNDS"] == 13


def test_production_requires_a_secret_key(tmp_path):
    env = {"QH_ENV": "production", "QH_DATABASE_URL": "postgresql://u@db/qh"}
    with pytest.raises(ConfigError, match="QH_SECRET_KEY"):
        load_config(tmp_path, env=env)


def test_production_refuses_sqlite(tmp_path):
    env = {"QH_ENV": "production", "QH_SECRET_KEY": "k" * 40}
    with pytest.raises(ConfigError, match="PostgreSQL"):
        load_config(tmp_path, env=env)


def test_production_defaults_are_secure(tmp_path):
    env = {"QH_ENV": "production", "QH_SECRET_KEY": "k" * 40, "QH_DATABASE_URL": "postgres://d"}
    config = load_config(tmp_path, env=env)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["DEV_OUTBOX_ENABLED"] is False
    assert config["BCRYPT_ROUNDS"] >= 12


@pytest.mark.parametrize(
    "env, message",
    [
        ({"QH_ENV": "staging"}, "QH_ENV"),
        ({"QH_BCRYPT_ROUNDS": "many"}, "integer"),
        ({"QH_STRIPE_SECRET_KEY": "sk_test"}, "both"),
    ],
)
def test_bad_settings_say_what_to_fix(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, env=env)


def test_database_url_normalisation():
    assert normalise_database_url("postgres://a/b") == "postgresql+psycopg://a/b"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"
