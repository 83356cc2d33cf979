"""Issue 19, findings 5 and 6: sign-in and API keys when Redis or PostgreSQL is down.

- Redis down (a throwaway ``redis-server`` stopped): rate limits are counted in-process, so
  sign-in by form and API and ``X-API-Key`` calls still answer, never a 500.
- PostgreSQL down (a throwaway cluster stopped): sign-in answers 503, and those refused
  attempts are not counted against the account's limit, so sign-in works as soon as the
  database is back.
"""

from __future__ import annotations

import pytest
from flask_migrate import upgrade

from portal import create_app
from portal.accounts.services import create_api_key
from portal.core.extensions import db
from tests.conftest import make_config
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.timeout(120)


def test_sign_in_and_api_keys_work_without_redis(committed_db, throwaway_redis):
    portal = create_app(make_config(REDIS_URL=throwaway_redis.url, RATELIMIT_ENABLED=True))
    with portal.app_context():
        user = UserFactory(username="noredis", email="noredis@example.com")
        _key, raw_key = create_api_key(user, "outage", scopes=["read"], rate_limit="5/minute")
        db.session.commit()
        throwaway_redis.stop()

        page = portal.test_client().post(
            "/login", data={"login": "noredis", "password": DEFAULT_PASSWORD}
        )
        assert page.status_code == 302, page.get_data(as_text=True)[:300]
        api = portal.test_client().post(
            "/api/v1/auth/login", json={"login": "noredis", "password": DEFAULT_PASSWORD}
        )
        assert api.status_code == 200, api.get_data(as_text=True)[:300]
        keyed = portal.test_client()
        answers = [
            keyed.get("/api/v1/auth/me", headers={"X-API-Key": raw_key}).status_code
            for _ in range(7)
        ]
        # The key's own limit still holds, counted in this process.
        assert answers == [200] * 5 + [429] * 2, answers

        throwaway_redis.start()  # and Redis is used again once it is back (after a retry delay)
        db.session.remove()


def test_attempts_refused_while_the_database_is_down_are_not_counted(
    throwaway_postgres, throwaway_redis, own_database
):
    url = throwaway_postgres.url.replace("postgresql://", "postgresql+psycopg://")
    portal = create_app(
        make_config(
            SQLALCHEMY_DATABASE_URI=url,
            REDIS_URL=throwaway_redis.url,
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
            RATELIMIT_ENABLED=True,
            RATELIMIT_SIGN_IN=("30/minute", "3/minute"),
        )
    )
    with portal.app_context():
        upgrade(revision="heads")
        UserFactory(username="outage", email="outage@example.com")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
        throwaway_postgres.stop()
        for _ in range(3):
            api = portal.test_client().post(
                "/api/v1/auth/login", json={"login": "outage", "password": DEFAULT_PASSWORD}
            )
            assert api.status_code == 503, api.get_data(as_text=True)[:300]
            page = portal.test_client().post(
                "/login", data={"login": "outage", "password": DEFAULT_PASSWORD}
            )
            assert page.status_code == 503, page.get_data(as_text=True)[:300]
        throwaway_postgres.start()
        back = portal.test_client().post(
            "/api/v1/auth/login", json={"login": "outage", "password": DEFAULT_PASSWORD}
        )
        assert back.status_code == 200, back.get_data(as_text=True)[:300]
        # Real attempts still count: three wrong passwords and the account is limited.
        wrong = [
            portal.test_client()
            .post("/api/v1/auth/login", json={"login": "outage", "password": "wrong-password"})
            .status_code
            for _ in range(3)
        ]
        assert wrong == [401, 401, 429], wrong
        db.session.remove()
        db.engine.dispose()
