"""PostgreSQL goes away while the portal serves, then comes back.

A throwaway cluster (``initdb`` + ``pg_ctl`` on a free port) is migrated and served by an app
instance; the shared cluster on 5432 is never touched. During the outage pages answer the
friendly 503 page, the API its error envelope with 503, ``/readyz`` 503 with the reason; once
the cluster is back the same app answers 200 again without a restart (idle pooled
connections are pinged before use, ``portal.core.db.ping_idle_connections``).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app
from portal.core.extensions import db
from tests.conftest import make_config
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def served(throwaway_postgres, own_database):
    """An app on the throwaway cluster, migrated, with one user signed in by the form (page
    client) and one bearer token (API)."""
    url = throwaway_postgres.url.replace("postgresql://", "postgresql+psycopg://")
    application = create_app(
        make_config(
            SQLALCHEMY_DATABASE_URI=url,
            # As production, plus a short connect timeout for the outage.
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 2}},
            RATELIMIT_ENABLED=False,
        )
    )
    with application.app_context():
        upgrade(revision="heads")
        user = UserFactory(username="outage", email="outage@example.com")
        db.session.commit()
        pages = application.test_client()
        signed_in = pages.post("/login", data={"login": "outage", "password": DEFAULT_PASSWORD})
        assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:500]
        api = application.test_client()
        token = api.post(
            "/api/v1/auth/login", json={"login": user.username, "password": DEFAULT_PASSWORD}
        ).get_json()["access_token"]
        db.session.remove()
        yield application, pages, api, {"Authorization": f"Bearer {token}"}
        db.session.remove()
        db.engine.dispose()


def assert_outage(pages, api, headers) -> None:
    # A page whose first database access is Flask-Login loading the signed-in user.
    page = pages.get("/jobs")
    assert page.status_code == 503, page.get_data(as_text=True)[:300]
    assert "text/html" in page.content_type
    assert "database is unavailable" in page.get_data(as_text=True)
    assert page.headers["Retry-After"] == "5"
    # A page for an anonymous visitor that reads the database (the registry listing).
    anonymous = api.application.test_client().get("/registry/")
    assert anonymous.status_code == 503
    # The API: the envelope, never a 500.
    for path in ("/api/v1/jobs", "/api/v1/auth/me", "/api/v1/hardware"):
        resp = api.get(path, headers=headers)
        assert resp.status_code == 503, (path, resp.get_data(as_text=True)[:300])
        assert resp.get_json()["error"]["code"] == "service_unavailable"
    write = api.post("/api/v1/auth/login", json={"login": "outage", "password": DEFAULT_PASSWORD})
    assert write.status_code == 503 and write.get_json()["error"]["code"] == "service_unavailable"
    ready = api.get("/readyz")
    assert ready.status_code == 503
    body = ready.get_json()
    assert body["checks"]["database"] is False
    assert any(reason.startswith("database unreachable") for reason in body["reasons"])


def assert_serving(pages, api, headers) -> None:
    assert pages.get("/jobs").status_code == 200
    assert api.get("/api/v1/jobs", headers=headers).status_code == 200
    assert api.get("/api/v1/auth/me", headers=headers).get_json()["username"] == "outage"
    assert api.get("/readyz").status_code == 200


def test_outage_is_503_everywhere_and_the_portal_recovers_by_itself(served, throwaway_postgres):
    application, pages, api, headers = served
    with application.app_context():
        assert_serving(pages, api, headers)  # the pool now holds live connections
        throwaway_postgres.stop()
        assert_outage(pages, api, headers)
        assert_outage(pages, api, headers)  # and again: no state left broken by the first
        throwaway_postgres.start()
        assert_serving(pages, api, headers)


def test_a_commit_that_fails_is_a_503_not_a_500(served):
    """The connection dies at COMMIT (a deferred trigger raising admin_shutdown, as when the
    server shuts down between the last statement and the commit): 503, nothing written."""
    application, pages, api, _headers = served
    with application.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    """
                    CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'terminating connection due to administrator command'
                        USING ERRCODE = 'admin_shutdown'; END $$;
                    CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON user_sessions
                        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die_at_commit();
                    """
                )
            )
        before = db.session.execute(sa.text("SELECT count(*) FROM user_sessions")).scalar_one()
        db.session.remove()
        resp = api.post(
            "/api/v1/auth/login", json={"login": "outage", "password": DEFAULT_PASSWORD}
        )
        assert resp.status_code == 503, resp.get_data(as_text=True)[:300]
        assert resp.get_json()["error"]["code"] == "service_unavailable"
        page = pages.application.test_client().post(
            "/login", data={"login": "outage", "password": DEFAULT_PASSWORD}
        )
        assert page.status_code == 503 and "database is unavailable" in page.get_data(as_text=True)
        db.session.remove()
        after = db.session.execute(sa.text("SELECT count(*) FROM user_sessions")).scalar_one()
        assert after == before
        db.session.remove()  # its snapshot would hold a lock DROP TRIGGER waits for
        # The same app keeps serving once the fault is gone.
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER die_at_commit ON user_sessions"))
        assert (
            api.post(
                "/api/v1/auth/login", json={"login": "outage", "password": DEFAULT_PASSWORD}
            ).status_code
            == 200
        )
