"""Test fixtures: one migrated PostgreSQL database per run, each test in a transaction that
is rolled back, Redis flushed between tests, factories, a login helper and a live server.

A test sees what a user sees: every request of the test client runs in its own application
and request context with its own session, as in production, so a write is visible to a later
request only if its unit of work committed (a route that only flushes loses its write, and
``tests/integration/core/test_unit_of_work.py`` proves the suite sees that). The test body
has its own context and session for factories and checks.

Isolation: all sessions of a test share one connection inside an outer transaction that is
rolled back at the end; each session works in its own savepoint, so a commit releases the
savepoint (visible to later requests) and a session closed without committing rolls its
savepoint back (lost, as in production). Tests marked ``e2e`` (and tests using
``committed_db``) talk to the database from other threads or processes, so they commit for
real and the tables are emptied afterwards.
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from flask_sqlalchemy.session import _app_ctx_id
from redis import Redis
from sqlalchemy.orm import scoped_session, sessionmaker
from werkzeug.serving import make_server

from portal import create_app
from portal.core.extensions import db

# The client under test is this checkout's client/ (the venv's editable install may point at
# another checkout's, e.g. when a git worktree shares the main checkout's venv).
CLIENT_DIR = str(Path(__file__).resolve().parents[1] / "client")
if CLIENT_DIR not in sys.path:
    sys.path.insert(0, CLIENT_DIR)

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/qh_test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def database_url() -> str:
    return os.environ.get("QH_TEST_DATABASE_URL") or DEFAULT_DB


def redis_url() -> str:
    return os.environ.get("QH_TEST_REDIS_URL") or DEFAULT_REDIS


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url`` through the maintenance database."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_config(**overrides) -> dict:
    config = {
        "ENV_NAME": "testing",
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "REDIS_URL": redis_url(),
        "BCRYPT_ROUNDS": 4,  # production uses 12; tests hash many passwords
        "WTF_CSRF_ENABLED": False,
        "LOG_JSON": True,
        "SERVER_NAME": None,
        # Builds answer at once ("checking"); tests run the check (tests/build_checks.py) or
        # start a worker and wait, as the real-worker tests do.
        "BUILD_WAIT_SECONDS": 0,
        # Webhook tests deliver to a receiver on 127.0.0.1.
        "WEBHOOKS_ALLOW_PRIVATE": True,
    }
    config.update(overrides)
    return config


class RequestClient(FlaskClient):
    """A test client whose every request runs in a fresh ``contextvars`` context, so it
    pushes its own application context and gets its own session, never the test body's.
    Before a request the test body's work is committed, as set-up data would be in
    production (and so no savepoint of the body's is open beneath the request's); after
    it the body's objects are expired, so what the test reads next comes from the
    database: only what the request committed."""

    def open(self, *args, **kwargs):
        body_session = db.session() if has_app_context() else None
        if body_session is not None:
            body_session.commit()
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if body_session is not None:
            body_session.expire_all()
        return response


@pytest.fixture(scope="session")
def app():
    from flask_migrate import upgrade

    recreate_database(database_url())
    application = create_app(make_config())
    application.test_client_class = RequestClient
    with application.app_context():
        upgrade(revision="heads")
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _app_context(app):
    """The test body's own context (factories, services called directly, checks). Requests
    never run in it: ``RequestClient`` gives each its own."""
    with app.app_context():
        yield


@pytest.fixture(autouse=True)
def redis_flushed():
    client = Redis.from_url(redis_url())
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def _wants_commits(request) -> bool:
    fixtures = request.fixturenames
    return (
        "committed_db" in fixtures
        or "own_database" in fixtures
        or bool(request.node.get_closest_marker("e2e"))
    )


@pytest.fixture(autouse=True)
def db_session(request, app, monkeypatch):
    """Run the test inside one outer transaction that is rolled back afterwards. Sessions are
    scoped to the application context as Flask-SQLAlchemy's are (one per request, one for
    the test body), all on this connection; with ``create_savepoint`` a commit only releases
    the session's savepoint and closing an uncommitted session rolls it back."""
    if _wants_commits(request):
        yield db.session
        return
    connection = db.engine.connect()
    outer = connection.begin()
    session = scoped_session(
        sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
        scopefunc=_app_ctx_id,
    )
    monkeypatch.setattr(db, "session", session)
    try:
        yield session
    finally:
        session.remove()
        outer.rollback()
        connection.close()


def truncate_all() -> None:
    tables = [t.name for t in db.metadata.sorted_tables]
    db.session.remove()
    with db.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))


@pytest.fixture
def committed_db(app):
    """Real commits, visible to other threads and processes; tables emptied afterwards."""
    yield db.session
    truncate_all()


@pytest.fixture
def own_database():
    """For tests that build an app on another database: leave ``db.session`` unpatched."""
    return None


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    """Sign a test client in as a user, by the same form a person uses."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str):
        return self.client.post(
            "/login", data={"login": username, "password": password}, follow_redirects=False
        )

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def login_as(client):
    """Sign ``client`` in as ``user`` without the form (for tests about other pages)."""

    def sign_in(user):
        from portal.accounts.auth import WEB_SESSION_KEY
        from portal.accounts.services import start_web_session

        # A browser sign-in is a user_sessions row; the Flask session names it. Committed
        # (inside the test's outer transaction) so a view that rolls back keeps it.
        row = start_web_session(user, "127.0.0.1", "pytest login_as")
        db.session.commit()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
            session[WEB_SESSION_KEY] = str(row.id)
        return client

    return sign_in


@pytest.fixture
def outbox():
    """The dev mail outbox, emptied first: ``outbox()`` lists the messages sent since."""
    from portal.core.mail import clear_outbox
    from portal.core.mail import outbox as read_outbox

    clear_outbox()
    yield read_outbox
    clear_outbox()


@pytest.fixture
def api_headers():
    """``api_headers(user)`` -> headers with a fresh bearer access token for ``user``."""
    from portal.accounts.tokens import issue_tokens

    def headers_for(user) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_tokens(user).access_token}"}

    return headers_for


# --- Live server and Playwright -------------------------------------------------------


@pytest.fixture(scope="session")
def live_app():
    """A second app instance with CSRF on, as in production, for the browser tests."""
    return create_app(make_config(WTF_CSRF_ENABLED=True))


@contextmanager
def serve(application):
    """Serve ``application`` on a free loopback port in a thread; ``server.url`` is its base."""
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_server(live_app, committed_db):
    with serve(live_app) as server:
        yield server


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("QH_CHROMIUM", "/usr/bin/chromium"),
        "args": [
            "--no-sandbox",
            "--headless",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def console_errors(page):
    """Collects console errors and failed requests; browser tests assert it stays empty."""
    errors: list[str] = []

    def console(msg):
        # A form re-rendered with its errors answers 422 by design (its unit of work is rolled
        # back), and Chromium logs every non-2xx response; any other status is an error.
        if msg.type == "error" and "status of 422" not in msg.text:
            errors.append(msg.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def request_failed(req):
        # A request the browser cancels because the page navigated on (or a download took
        # over) is not a failure of the portal; anything else is.
        if (req.failure or "") != "net::ERR_ABORTED":
            errors.append(f"request failed: {req.url} ({req.failure})")

    page.on("requestfailed", request_failed)
    return errors


@pytest.fixture
def statements(app):
    """The SQL sent from here on (whitespace collapsed), for tests that count queries."""
    seen = []

    def note(*args):
        seen.append(" ".join(args[2].split()))

    engine = db.engine  # inside the test's app context (a new one would end its session)
    sa.event.listen(engine, "before_cursor_execute", note)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", note)
