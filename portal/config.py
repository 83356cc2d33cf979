"""Settings from the environment (``QH_*``), in one place, validated at start-up.

Every setting has a safe default except the two servers: ``QH_DATABASE_URL`` (PostgreSQL)
and ``QH_REDIS_URL`` (Redis or Valkey) are required, because every mode runs the same code
on them (``make run`` starts embedded ones and sets both). Development gets a generated
secret key kept in the instance folder.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

# A browser sign-in lasts this long (its user_sessions row, and the session cookie).
WEB_SESSION_DAYS = 14

ENVIRONMENTS = ("development", "testing", "production")


class ConfigError(RuntimeError):
    """Raised at start-up when the settings cannot work."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def default_worker_memory_mb() -> int:
    """The workers' memory budget when QH_WORKER_MEMORY_MB is unset: a quarter of the
    machine's memory (or of the container's cgroup limit, if lower), at least 1024 MiB.
    A quarter leaves room for several workers, PostgreSQL and the web processes."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 1024
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            total = min(total, int(limit))
    except OSError:
        pass
    return max(1024, total // 4 // 2**20)


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _dev_secret_key(instance_path: Path) -> str:
    """A development key kept in the instance folder so sign-ins survive restarts."""
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def load_config(
    instance_path: str | Path,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build the Flask config mapping from ``QH_*`` variables, then apply ``overrides``."""
    env = os.environ if env is None else env
    overrides = dict(overrides or {})
    instance_path = Path(instance_path)

    qh_env = overrides.get("ENV_NAME") or env.get("QH_ENV", "development")
    if qh_env not in ENVIRONMENTS:
        raise ConfigError(f"QH_ENV must be one of {', '.join(ENVIRONMENTS)}, got {qh_env!r}")
    production = qh_env == "production"

    secret_key = env.get("QH_SECRET_KEY", "")
    if not secret_key and not production and "SECRET_KEY" not in overrides:
        secret_key = _dev_secret_key(instance_path)

    config: dict[str, Any] = {
        "ENV_NAME": qh_env,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": env.get("QH_DATABASE_URL") or None,
        "SQLALCHEMY_ENGINE_OPTIONS": {},  # idle connections are pinged (core/db.py)
        "REDIS_URL": env.get("QH_REDIS_URL") or None,
        "BASE_URL": env.get("QH_BASE_URL", "http://127.0.0.1:5000"),
        "LOG_LEVEL": env.get("QH_LOG_LEVEL", "INFO"),
        "LOG_JSON": _bool(env.get("QH_LOG_JSON"), default=True),
        # Accounts
        "BCRYPT_ROUNDS": _int(env, "QH_BCRYPT_ROUNDS", 12),
        "JWT_ACCESS_MINUTES": _int(env, "QH_JWT_ACCESS_MINUTES", 15),
        "JWT_REFRESH_DAYS": _int(env, "QH_JWT_REFRESH_DAYS", 30),
        "SMTP_HOST": env.get("QH_SMTP_HOST") or None,
        "SMTP_PORT": _int(env, "QH_SMTP_PORT", 587),
        "SMTP_USERNAME": env.get("QH_SMTP_USERNAME") or None,
        "SMTP_PASSWORD": env.get("QH_SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": _bool(env.get("QH_SMTP_STARTTLS"), default=True),
        "MAIL_FROM": env.get("QH_MAIL_FROM", "Quantum Hub <no-reply@quantum-hub.local>"),
        # Payments: the local test provider unless both Stripe settings are given.
        "STRIPE_SECRET_KEY": env.get("QH_STRIPE_SECRET_KEY") or None,
        "STRIPE_WEBHOOK_SECRET": env.get("QH_STRIPE_WEBHOOK_SECRET") or None,
        "STRIPE_API_BASE": env.get("QH_STRIPE_API_BASE") or None,
        # Execution
        "JOB_TIMEOUT_SECONDS": _int(env, "QH_JOB_TIMEOUT_SECONDS", 300),
        "BLOCKING_WAIT_SECONDS": _int(env, "QH_BLOCKING_WAIT_SECONDS", 30),
        # The memory a worker may give one simulation's state (16 bytes x 2^qubits for a
        # state vector; 4096 MiB = 28 qubits), for jobs and build checks alike; by default a
        # quarter of the machine's memory. Build checks: their time limit, and how long the
        # API's build and release wait for one before answering 202 / 409.
        "WORKER_MEMORY_MB": _int(env, "QH_WORKER_MEMORY_MB", default_worker_memory_mb()),
        "BUILD_CHECK_TIMEOUT_SECONDS": _int(env, "QH_BUILD_CHECK_TIMEOUT_SECONDS", 60),
        "BUILD_WAIT_SECONDS": _int(env, "QH_BUILD_WAIT_SECONDS", 10),
        # Workers: a SIGTERM lets the running job finish for this long, then hands it back to
        # the queue (keep it below the Deployment's terminationGracePeriodSeconds).
        "WORKER_STOP_GRACE_SECONDS": _int(env, "QH_WORKER_STOP_GRACE_SECONDS", 40),
        # A result that cannot be written (PostgreSQL down) is retried this long.
        "RESULT_WRITE_RETRY_SECONDS": _int(env, "QH_RESULT_WRITE_RETRY_SECONDS", 600),
        # /readyz answers 503 when no worker has beaten for this long (0 = no worker check;
        # off by default in tests, which mostly run without a worker).
        "READYZ_WORKER_SECONDS": _int(
            env, "QH_READYZ_WORKER_SECONDS", 0 if qh_env == "testing" else 60
        ),
        # Webhooks: private, loopback and link-local destinations are refused unless this is
        # set (a development machine's local receiver; the tests' receiver on 127.0.0.1).
        "WEBHOOKS_ALLOW_PRIVATE": _bool(
            env.get("QH_WEBHOOKS_ALLOW_PRIVATE"), default=qh_env == "development"
        ),
        # Encryption at rest: Fernet keys, newest first (derived from the secret key if unset).
        "ENCRYPTION_KEYS": env.get("QH_ENCRYPTION_KEYS") or None,
        # Tracing: OTLP over HTTP when an endpoint is given, off otherwise.
        "OTEL_ENDPOINT": env.get("QH_OTEL_ENDPOINT") or None,
        "OTEL_SERVICE_NAME": env.get("QH_OTEL_SERVICE_NAME", "quantum-hub"),
        # Web
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_HEADERS": ["X-CSRFToken", "X-CSRF-Token"],
        "MAX_CONTENT_LENGTH": _int(env, "QH_MAX_CONTENT_LENGTH", 16 * 1024 * 1024),
        # The browser session's lifetime is its user_sessions row's (14 days from sign-in),
        # so the cookie need not be re-signed and re-sent on every response.
        "PERMANENT_SESSION_LIFETIME": timedelta(days=WEB_SESSION_DAYS),
        "SESSION_REFRESH_EACH_REQUEST": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "RATELIMIT_ENABLED": _bool(env.get("QH_RATELIMIT_ENABLED"), default=True),
        # Listing pages cache their ids and totals in Redis this long (0 = off; see
        # portal/core/cache.py). Off by default in tests so each test sees its own data.
        "LISTING_CACHE_SECONDS": _int(
            env, "QH_LISTING_CACHE_SECONDS", 0 if qh_env == "testing" else 30
        ),
        # The wait estimate's inputs (median recent run time per device, workers seen) are
        # the same for every poller: each process reuses them this long (0 = every time).
        "WAIT_ESTIMATE_CACHE_SECONDS": _int(
            env, "QH_WAIT_ESTIMATE_CACHE_SECONDS", 0 if qh_env == "testing" else 5
        ),
        # App page views and API-key requests add up in Redis and are written in one batch
        # this often (0 = each one written at once; see portal/analytics/counters.py).
        "COUNTER_FLUSH_SECONDS": _int(
            env, "QH_COUNTER_FLUSH_SECONDS", 0 if qh_env == "testing" else 5
        ),
        "DEV_OUTBOX_ENABLED": not production,
        # flask-smorest: the spec is served under the API prefix; the docs page is our own
        # template so its assets come from static/ (never a CDN).
        "API_TITLE": "Quantum Hub API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
    config.update(overrides)
    _require_servers(config)
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    # At least one pooled connection per gunicorn thread: with fewer, the extra threads use
    # overflow connections that are closed on return, i.e. a new PostgreSQL backend (fork +
    # authentication) for almost every request under load.
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("pool_size", _int(env, "QH_DB_POOL_SIZE", 10))
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    config["RATELIMIT_STORAGE_URI"] = config.get("RATELIMIT_STORAGE_URI") or config["REDIS_URL"]
    if config["ENV_NAME"] == "testing":
        config.setdefault("TESTING", True)
    validate(config)
    return config


def _require_servers(config: Mapping[str, Any]) -> None:
    """No fallback database, no running jobs without Redis: say how to get both servers."""
    missing = [
        name
        for name, key in (
            ("QH_DATABASE_URL", "SQLALCHEMY_DATABASE_URI"),
            ("QH_REDIS_URL", "REDIS_URL"),
        )
        if not config.get(key)
    ]
    if missing:
        raise ConfigError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set. Run "
            "`make run` (it starts embedded PostgreSQL and Valkey servers and sets "
            "QH_DATABASE_URL and QH_REDIS_URL), or set them to your PostgreSQL and Redis "
            "servers, e.g. QH_DATABASE_URL=postgresql://user@host:5432/quantum_hub "
            "QH_REDIS_URL=redis://host:6379/0."
        )


def validate(config: Mapping[str, Any]) -> None:
    """Refuse to start with settings that cannot work, saying which one to fix."""
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        raise ConfigError("QH_DATABASE_URL must point at PostgreSQL (postgresql://...)")
    production = config["ENV_NAME"] == "production"
    if production and (not config.get("SECRET_KEY") or len(config["SECRET_KEY"]) < 32):
        raise ConfigError("QH_SECRET_KEY must be set to at least 32 characters in production")
    if bool(config.get("STRIPE_SECRET_KEY")) != bool(config.get("STRIPE_WEBHOOK_SECRET")):
        raise ConfigError("Set both QH_STRIPE_SECRET_KEY and QH_STRIPE_WEBHOOK_SECRET, or neither")
    for key in (config.get("ENCRYPTION_KEYS") or "").split(","):
        if key.strip() and len(key.strip()) != 44:
            raise ConfigError("QH_ENCRYPTION_KEYS must be Fernet keys (44 characters, base64)")
    if config.get("BCRYPT_ROUNDS", 12) < 4:
        raise ConfigError("QH_BCRYPT_ROUNDS must be at least 4")
