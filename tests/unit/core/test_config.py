import pytest

from portal.config import ConfigError, load_config, normalise_database_url

# The two servers every mode needs (``make run`` starts embedded ones and sets these).
SERVERS = {"QH_DATABASE_URL": "postgresql://u@db/qh", "QH_REDIS_URL": "redis://cache:6379/0"}


def test_without_servers_the_app_refuses_to_start(tmp_path):
    with pytest.raises(ConfigError, match="QH_DATABASE_URL and QH_REDIS_URL are not set") as err:
        load_config(tmp_path, env={})
    assert "make run" in str(err.value)


@pytest.mark.parametrize("missing", ["QH_DATABASE_URL", "QH_REDIS_URL"])
def test_each_server_is_required(tmp_path, missing):
    env = {k: v for k, v in SERVERS.items() if k != missing}
    with pytest.raises(ConfigError, match=f"^{missing} is not set. Run `make run`"):
        load_config(tmp_path, env=env)


def test_overrides_may_name_the_servers(tmp_path):
    config = load_config(
        tmp_path,
        {"SQLALCHEMY_DATABASE_URI": "postgresql://t@db/test", "REDIS_URL": "redis://r/1"},
        env={},
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://t@db/test"
    assert config["REDIS_URL"] == config["RATELIMIT_STORAGE_URI"] == "redis://r/1"
    assert len(config["SECRET_KEY"]) == 64


def test_the_database_must_be_postgresql(tmp_path):
    env = {**SERVERS, "QH_DATABASE_URL": "mysql://u@db/qh"}
    with pytest.raises(ConfigError, match="PostgreSQL"):
        load_config(tmp_path, env=env)


def test_dev_secret_key_is_kept_between_starts(tmp_path):
    first = load_config(tmp_path, env=SERVERS)["SECRET_KEY"]
    assert load_config(tmp_path, env=SERVERS)["SECRET_KEY"] == first


def test_environment_variables_are_read(tmp_path):
    config = load_config(
        tmp_path, env={**SERVERS, "QH_SECRET_KEY": "x" * 40, "QH_BCRYPT_ROUNDS": "13"}
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/qh"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
    assert config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 10
    assert config["BCRYPT_ROUNDS"] == 13


def test_production_requires_a_secret_key(tmp_path):
    env = {**SERVERS, "QH_ENV": "production"}
    with pytest.raises(ConfigError, match="QH_SECRET_KEY"):
        load_config(tmp_path, env=env)


def test_production_defaults_are_secure(tmp_path):
    env = {**SERVERS, "QH_ENV": "production", "QH_SECRET_KEY": "k" * 40}
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
        load_config(tmp_path, env={**SERVERS, **env})


def test_database_url_normalisation():
    assert normalise_database_url("postgres://a/b") == "postgresql+psycopg://a/b"
    assert normalise_database_url("postgresql://a/b") == "postgresql+psycopg://a/b"
