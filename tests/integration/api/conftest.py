"""The harness of the persistence test: requests that each run in their own app context (so
their own database session, removed at the end as in production) and read-backs over a
brand-new PostgreSQL connection."""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg.rows import dict_row

from portal.core.extensions import db
from tests.conftest import database_url

API = "/api/v1"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def template_regex(path: str) -> re.Pattern:
    """``/a/{x}/b`` -> a pattern matching that path with any value for ``{x}``."""
    parts = re.split(r"\{[^}]+\}", path)
    return re.compile("[^?]+".join(re.escape(part) for part in parts) + r"(\?.*)?")


class World:
    """What a case uses: ``commit`` ends the setup, ``write`` sends the operation under test
    (exactly once), ``get``/``request`` are later requests, ``row``/``rows``/``value`` read
    over a fresh connection. Request paths are relative to /api/v1."""

    def __init__(self, app, client, api_headers, monkeypatch, operation):
        self.app, self.client, self.monkeypatch = app, client, monkeypatch
        self._api_headers = api_headers
        self.method, self.path = operation
        self.writes = 0
        self.fresh_reads_after_write = 0

    # -- setup ---------------------------------------------------------------------------

    def bearer(self, user) -> dict[str, str]:
        """A bearer header for ``user`` (its user_sessions row is saved by ``commit``)."""
        return self._api_headers(user)

    def commit(self, *values):
        """Commit what the setup made and drop the session (its objects are detached from
        here on: take ids first). Returns ``values`` (one value alone)."""
        db.session.commit()
        db.session.remove()
        return values[0] if len(values) == 1 else values

    # -- requests ------------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs):
        # The suite's client runs each request in its own app context and session
        # (tests/conftest.py ``RequestClient``): what a request did not commit is lost.
        return self.client.open(API + url, method=method, **kwargs)

    def write(self, method: str, url: str, *, status: int | None = None, **kwargs):
        """Send the operation under test; it must answer ``status`` (any 2xx by default)."""
        assert method == self.method, f"the case of {self.method} {self.path} sent {method}"
        assert template_regex(self.path).fullmatch(API + url), f"{url} is not {self.path}"
        self.writes += 1
        response = self._send(method, url, **kwargs)
        ok = response.status_code == status if status else 200 <= response.status_code < 300
        assert ok, f"{method} {url} -> {response.status_code}: {response.get_data(as_text=True)}"
        return response

    def request(self, method: str, url: str, **kwargs):
        """A later request, not the operation under test (its own app context and session)."""
        return self._send(method, url, **kwargs)

    def get(self, url: str, **kwargs):
        return self._send("GET", url, **kwargs)

    # -- fresh-connection reads ----------------------------------------------------------

    def rows(self, sql: str, *params) -> list[dict]:
        """Rows of ``sql`` read over a brand-new connection (sees only committed data)."""
        if self.writes:
            self.fresh_reads_after_write += 1
        url = database_url().replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()

    def row(self, sql: str, *params) -> dict | None:
        """The one row of ``sql`` (None when there is none), over a brand-new connection."""
        found = self.rows(sql, *params)
        assert len(found) <= 1, f"{sql} matched {len(found)} rows"
        return found[0] if found else None

    def value(self, sql: str, *params):
        """The single column of the one row of ``sql`` (None when there is no row)."""
        found = self.row(sql, *params)
        return None if found is None else next(iter(found.values()))


@pytest.fixture(scope="module")
def openapi_writes(app) -> set[tuple[str, str]]:
    """Every write operation of the OpenAPI document, as (METHOD, path template)."""
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method.upper() in WRITE_METHODS
    }


@pytest.fixture
def world(request, app, client, api_headers, monkeypatch, committed_db):
    """The harness for one operation (the test's ``operation`` parameter)."""
    return World(app, client, api_headers, monkeypatch, request.node.callspec.params["operation"])
