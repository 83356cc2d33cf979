"""Issue 18, part 4: input that cannot hurt. Each finding of the audit, over the test client:
lone surrogates in text (500 before), integers out of their column's range (500 before), a
QASM 3 input of 10**400 (500 before), 1.5 for an integer (silently stored as 1 before) and
text without a maximum (a 1 MB README was stored). Each refusal is a 422 that names the
field, and leaves the database as it was (checked with a fresh read)."""

from __future__ import annotations

import pytest

from portal.accounts.models import UserApiKey
from portal.apps.models import QuantumApp
from portal.core import inputs
from portal.core.extensions import db
from portal.core.programs import InputError, bind_inputs
from portal.execution.models import Job
from portal.marketplace.models import MarketplaceListing, SubscriptionKey
from portal.projects.models import Project
from tests.factories.accounts import UserFactory
from tests.factories.apps import ROTATION, QuantumAppFactory, add_version
from tests.factories.marketplace import listed_app, simulator, trial_with_key

LONE = "bad\ud800name"


@pytest.fixture
def user():
    simulator()
    return UserFactory(roles=["CONSUMER", "PROVIDER"], is_provider=True)


def count(model) -> int:
    db.session.expire_all()
    return db.session.query(model).count()


def refused(resp, field: str | None = None) -> dict:
    assert resp.status_code == 422, (resp.status_code, resp.get_data(as_text=True)[:400])
    error = resp.get_json()["error"]
    if field:
        assert field in error["message"] or field in str(error["details"]), error
    return error


# -- lone surrogates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "method", "path", "body", "model"),
    [
        ("profile bio", "put", "/api/v1/users/{uid}/profile", {"bio": LONE}, None),
        ("API key name", "post", "/api/v1/api-keys", {"name": LONE}, UserApiKey),
        ("project name", "post", "/api/v1/projects/", {"name": LONE}, Project),
        ("app name", "post", "/api/v1/quantum-apps/", {"name": LONE}, QuantumApp),
        ("job device", "post", "/api/v1/jobs",
         {"program": {"source": "OPENQASM 2.0;\nqreg q[1];\n"}, "device": LONE}, Job),
        ("key in a JSON map", "put", "/api/v1/users/{uid}/profile",
         {"contact_info": {LONE: "x"}}, None),
    ],
)  # fmt: skip
def test_lone_surrogates_in_json_are_422(client, api_headers, user, what, method, path, body,
                                         model):  # fmt: skip
    before = count(model) if model else None
    resp = getattr(client, method)(path.format(uid=user.id), json=body, headers=api_headers(user))
    error = refused(resp)
    assert "surrogate" in error["message"] and "body." in error["message"], what
    if model:
        assert count(model) == before
    else:
        profile = client.get(f"/api/v1/users/{user.id}/profile", headers=api_headers(user))
        assert LONE not in profile.get_data(as_text=True)


def test_lone_surrogate_in_a_subscription_key_name_is_422(client, api_headers):
    owner, sub, _ = trial_with_key(listed_app())
    before = count(SubscriptionKey)
    resp = client.post(f"/api/v1/subscriptions/{sub.id}/keys", json={"name": LONE},
                       headers=api_headers(owner))  # fmt: skip
    refused(resp, "body.name")
    assert count(SubscriptionKey) == before


def test_surrogates_in_forms_query_and_path_never_reach_the_database(client, login_as, user,
                                                                     api_headers):  # fmt: skip
    """Werkzeug decodes forms, query strings and paths leniently (invalid UTF-8 stays
    percent-encoded or becomes U+FFFD), so a lone surrogate cannot arrive there; the check
    covers them anyway, and these requests must not fail."""
    login_as(user)
    page = client.post("/projects/new", data=b"name=bad%ED%A0%80name",
                       content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert page.status_code < 500
    for path in ("/registry/?q=bad%ED%A0%80", "/api/v1/registry/?q=%ED%A0%80",
                 "/api/v1/jobs/%ED%A0%80"):  # fmt: skip
        assert client.get(path, headers=api_headers(user)).status_code < 500, path
    names = [p.name for p in db.session.query(Project).filter_by(user_id=user.id)]
    assert all(inputs_ok(name) for name in names)


def inputs_ok(text: str) -> bool:
    from portal.core.errors import unstorable_text

    return unstorable_text(text) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [("a\x00b", "NUL"), ("a\ud800", "surrogate"), ("\udfff", "surrogate"), ("ok 😀", None)],
)
def test_unstorable_text_names_the_problem(text, problem):
    from portal.core.errors import unstorable_text

    found = unstorable_text(text)
    assert (found is None) if problem is None else (problem in found)


# -- integers: strict, and within their column ------------------------------------------------


@pytest.mark.parametrize("value", [1.5, 1.0, True, "1.5", 10**30, -(10**30)])
def test_default_shots_must_be_a_whole_number_in_range(client, api_headers, user, value):
    path = f"/api/v1/users/{user.id}/preferences"
    resp = client.put(path, json={"default_shots": value}, headers=api_headers(user))
    refused(resp, "default_shots")
    prefs = client.get(path, headers=api_headers(user)).get_json()
    assert prefs["default_shots"] == 1024  # unchanged


@pytest.mark.parametrize("value", [1.5, 10**30, 2**31])
def test_job_shots_must_be_a_whole_number_in_range(client, api_headers, user, value):
    body = {"program": {"source": "OPENQASM 2.0;\nqreg q[1];\n"}, "device": "aer-simulator",
            "shots": value}  # fmt: skip
    before = count(Job)
    refused(client.post("/api/v1/jobs", json=body, headers=api_headers(user)), "shots")
    assert count(Job) == before


@pytest.mark.parametrize("value", [1.5, 10**30, 2**31, 0])
def test_key_usage_cap_must_be_a_whole_number_in_range(client, api_headers, value):
    owner, sub, _ = trial_with_key(listed_app())
    before = count(SubscriptionKey)
    body = {"name": "k", "usage_cap": value}
    resp = client.post(
        f"/api/v1/subscriptions/{sub.id}/keys", json=body, headers=api_headers(owner)
    )
    refused(resp, "usage_cap")
    assert count(SubscriptionKey) == before


def test_usage_cap_bounds_hold_in_the_service_too(user):
    from portal.core.errors import ValidationFailed
    from portal.marketplace import keys

    _owner, sub, _ = trial_with_key(listed_app())
    for cap in (1.5, 10**30):
        with pytest.raises(ValidationFailed, match="usage_cap"):
            keys.create_key(sub, name="k", usage_cap=cap)


@pytest.mark.parametrize(
    ("field", "value"),
    [("trial_days", 1.5), ("trial_days", 10**30), ("trial_usage_limit", 2.5),
     ("paid_usage_limit", 10**30), ("paid_usage_limit", 1.5)],
)  # fmt: skip
def test_listing_integers_are_strict_and_bounded(client, api_headers, field, value):
    app = QuantumAppFactory()
    add_version(app)
    before = count(MarketplaceListing)
    body = {"price": "5.00", "subscription_types": ["TRIAL", "MONTHLY"], field: value}
    resp = client.post(f"/api/v1/quantum-apps/{app.id}/publish-marketplace", json=body,
                       headers=api_headers(app.developer))  # fmt: skip
    refused(resp, field)
    assert count(MarketplaceListing) == before


def test_page_forms_refuse_fractional_integers(client, login_as, user):
    login_as(user)
    resp = client.post("/settings/preferences", data={"default_shots": "1.5"})
    assert resp.status_code == 422
    prefs = client.get(f"/api/v1/users/{user.id}/preferences")  # session-less: just no 500
    assert prefs.status_code < 500


@pytest.mark.parametrize("raw", [1.5, 1.0, True, "1.5", "1e3", None, [1]])
def test_the_int_field_refuses_non_integers(raw):
    from marshmallow import Schema, ValidationError

    class One(Schema):
        n = inputs.Int()

    with pytest.raises(ValidationError):
        One().load({"n": raw})
    assert One().load({"n": "42"}) == {"n": 42}
    with pytest.raises(ValidationError, match="between"):
        One().load({"n": 2**31})


# -- numbers nothing can use ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"theta": 1e400, "layers": 1}', b'{"theta": NaN, "layers": 1}',
     b'{"theta": Infinity, "layers": 1}', b'{"theta": 1' + b"0" * 400 + b', "layers": 1}',
     b'{"theta": 0.5, "layers": 1' + b"0" * 400 + b"}"],
)  # fmt: skip
def test_qasm3_inputs_that_overflow_are_422(client, api_headers, user, raw):
    body = (b'{"program": {"source": %s}, "device": "aer-simulator", "inputs": ' % (
        __import__("json").dumps(ROTATION).encode()) + raw + b"}")  # fmt: skip
    before = count(Job)
    resp = client.post("/api/v1/jobs", data=body, content_type="application/json",
                       headers=api_headers(user))  # fmt: skip
    error = refused(resp)
    assert "inputs." in error["message"] or "Input '" in error["message"], error
    assert count(Job) == before


@pytest.mark.parametrize(
    ("given", "name"),
    [({"theta": 10**400, "layers": 1}, "theta"), ({"theta": float("inf"), "layers": 1}, "theta"),
     ({"theta": 0.5, "layers": 10**400}, "layers"), ({"theta": 0.5, "layers": 2**63}, "layers")],
)  # fmt: skip
def test_binding_refuses_overflowing_inputs_by_name(given, name):
    with pytest.raises(InputError, match=f"Input '{name}'"):
        bind_inputs(ROTATION, given)


# -- text with a documented maximum -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "limit"),
    [("readme_content", inputs.README_CHARS), ("description", inputs.DESCRIPTION_CHARS),
     ("repository_url", inputs.URL_CHARS)],
)  # fmt: skip
def test_app_text_over_its_limit_is_422(client, api_headers, user, field, limit):
    app = QuantumAppFactory(developer=user)
    over = "https://e.com/" + "x" * limit if field.endswith("url") else "x" * (limit + 1)
    resp = client.put(f"/api/v1/quantum-apps/{app.id}", json={field: over},
                      headers=api_headers(user))  # fmt: skip
    error = refused(resp, field)
    assert f"{limit:,}" in error["message"] or str(limit) in str(error["details"])
    db.session.expire_all()
    assert getattr(db.session.get(QuantumApp, app.id), field) != over


def test_a_readme_over_the_limit_is_refused_on_the_page_too(client, login_as, user):
    app = QuantumAppFactory(developer=user, readme_content="Short.")
    login_as(user)
    form = {"name": app.name, "type": app.type.name, "visibility": app.visibility.name,
            "license_type": "MIT",
            "readme_content": "x" * 200_000}  # fmt: skip
    resp = client.post(f"/apps/{app.id}/settings", data=form)
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "100,000" in text, text[text.find("<main") :][:1500]
    db.session.expire_all()
    assert db.session.get(QuantumApp, app.id).readme_content == "Short."


def test_project_description_and_doc_and_release_notes_have_limits(user):
    from portal.apps import services as apps
    from portal.core.errors import ValidationFailed
    from portal.projects import services as projects

    with pytest.raises(ValidationFailed, match="2,000"):
        projects.create_project(user, name="p", description="x" * 2001)
    app = QuantumAppFactory(developer=user)
    with pytest.raises(ValidationFailed, match="100,000"):
        apps.add_doc(app, title="Guide", content="x" * 100_001)
    version = add_version(app)
    with pytest.raises(ValidationFailed, match="10,000"):
        apps.update_version(version, release_notes="x" * 10_001)


def test_listing_support_contacts_have_limits(user):
    from decimal import Decimal

    from portal.core.errors import ValidationFailed
    from portal.marketplace import listings

    app = QuantumAppFactory(developer=user)
    add_version(app)
    for field, value in (
        ("support_email", "a" * 95 + "@example.com"),
        ("support_url", "https://e.com/" + "x" * 255),
    ):
        with pytest.raises(ValidationFailed, match=field):
            listings.publish_listing(app.id, user, price=Decimal("1"), **{field: value})


def test_a_value_the_database_refuses_is_still_a_422(client, api_headers, user, monkeypatch):
    """The safety net behind the checks: a DataError (here: integer out of range) is a 422
    and a rollback, not a 500."""
    import sqlalchemy as sa

    from portal.projects import services as projects

    def out_of_range(*args, **kwargs):
        db.session.execute(sa.text("SELECT 2147483648::integer"))

    monkeypatch.setattr(projects, "create_project", out_of_range)
    before = count(Project)
    resp = client.post("/api/v1/projects/", json={"name": "p"}, headers=api_headers(user))
    assert "out of range" in refused(resp)["message"]
    assert count(Project) == before


def test_a_long_job_tag_is_refused_not_cut_short():
    from portal.core.errors import ValidationFailed
    from portal.execution.submission import _clean_tags

    assert _clean_tags(["ok", " ok "]) == ["ok"]
    with pytest.raises(ValidationFailed, match="50 characters"):
        _clean_tags(["x" * 51])
