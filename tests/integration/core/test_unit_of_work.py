"""The unit of work and the harness that can see a lost write.

The canary is an app whose requests have no unit of work (the bug the projects API had: a
route that only flushes). Through the suite's client its write is lost, as it would be in
production; through a client that shares the test's context — how the suite used to run —
the same write looked saved. The other tests pin the rules of ``portal.core.uow``.
"""

from __future__ import annotations

import types
import uuid
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa
from flask import Flask, redirect
from flask.testing import FlaskClient

from portal import create_app
from portal.apps.models import Tag
from portal.core import uow
from portal.core.errors import ValidationFailed
from portal.core.extensions import db
from portal.core.web import FORM_ERROR_STATUS, flash_refusal
from tests.conftest import RequestClient, database_url, make_config


def _tag_named(name: str) -> bool:
    return db.session.scalar(sa.select(sa.func.count()).where(Tag.name == name)) == 1


def _app_with_routes(unit_of_work: bool) -> Flask:
    """A portal app with test routes; without ``unit_of_work`` its requests never commit."""
    application = create_app(make_config())
    if not unit_of_work:
        application.finalize_request = types.MethodType(Flask.finalize_request, application)

    @application.post("/canary/<name>")
    def write(name):
        db.session.add(Tag(name=name))
        db.session.flush()  # and nothing else: the route forgets its commit
        return "", 201

    @application.get("/canary/<name>")
    def read(name):
        return ("", 200) if _tag_named(name) else ("", 404)

    @application.post("/refused/<name>")
    def refused(name):
        db.session.add(Tag(name=name))
        db.session.flush()
        flash_refusal(ValidationFailed("No."))
        return redirect("/")

    @application.post("/form-error/<name>")
    def form_error(name):
        db.session.add(Tag(name=name))
        db.session.flush()
        return "the form, with its errors", FORM_ERROR_STATUS

    @application.post("/raises/<name>")
    def raises(name):
        db.session.add(Tag(name=name))
        db.session.flush()
        raise ValidationFailed("No.")

    @application.post("/unflushed/<name>")
    def unflushed(name):
        db.session.add(Tag(name=name))  # first sent to the database by the commit
        return "", 201

    return application


@contextmanager
def _client(unit_of_work: bool, client_class=RequestClient):
    """A test client of such an app, used inside the app's context: the test body's own
    context, as every test of the suite has one."""
    application = _app_with_routes(unit_of_work)
    application.test_client_class = client_class
    with application.app_context():
        yield application.test_client()


def test_canary_a_route_that_only_flushes_loses_its_write(db_session):
    name = f"canary-{uuid.uuid4().hex[:8]}"
    with _client(unit_of_work=False) as client:
        assert client.post(f"/canary/{name}").status_code == 201
        assert client.get(f"/canary/{name}").status_code == 404  # lost, and the suite sees it


def test_canary_the_old_harness_hid_the_lost_write(db_session):
    """Control: a client sharing the test's context (the old conftest) sees the flushed row,
    so the canary above fails exactly when the harness stops giving requests their own
    session."""
    name = f"canary-{uuid.uuid4().hex[:8]}"
    with _client(unit_of_work=False, client_class=FlaskClient) as client:
        assert client.post(f"/canary/{name}").status_code == 201
        assert client.get(f"/canary/{name}").status_code == 200


def test_a_successful_request_commits_and_failed_ones_roll_back(db_session):
    with _client(unit_of_work=True) as client:
        assert client.post("/canary/kept").status_code == 201
        assert client.post("/refused/redirected").status_code == 302
        assert client.post("/form-error/re-rendered").status_code == FORM_ERROR_STATUS
        assert client.post("/raises/raised").status_code == 422
        assert client.get("/canary/kept").status_code == 200
        for name in ("redirected", "re-rendered", "raised"):
            assert client.get(f"/canary/{name}").status_code == 404, name


def test_after_commit_hooks_run_only_once_the_commit_succeeded(db_session):
    ran = []
    uow.after_commit(lambda: ran.append("rolled back"))
    uow.rollback()
    db.session.commit()
    assert ran == []
    uow.after_commit(lambda: ran.append("committed"))
    assert ran == []
    with uow.unit_of_work():
        db.session.add(Tag(name=f"t-{uuid.uuid4().hex[:8]}"))
    assert ran == ["committed"]


def test_a_failing_hook_does_not_undo_the_commit(db_session):
    name = f"t-{uuid.uuid4().hex[:8]}"

    def broken():
        raise RuntimeError("the mail server is down")

    with uow.unit_of_work():
        db.session.add(Tag(name=name))
        uow.after_commit(broken)
    assert _tag_named(name)


def test_a_request_commit_that_fails_answers_the_error_not_the_success(db_session):
    with _client(unit_of_work=True) as client:
        assert client.post("/canary/duplicate").status_code == 201
        # The second insert of a unique name fails at the commit, after the view returned.
        response = client.post("/unflushed/duplicate")
        assert response.status_code == 500


def test_a_committed_request_is_seen_over_a_fresh_connection(committed_db):
    """With real commits (``committed_db``) the write reaches PostgreSQL itself."""
    with _client(unit_of_work=True) as portal_client:
        assert portal_client.post("/canary/durable").status_code == 201
    url = database_url().replace("+psycopg", "")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM tags WHERE name = 'durable'").fetchone()[0] == 1
