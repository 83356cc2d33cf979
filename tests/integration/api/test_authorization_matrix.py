"""Who may call what: every operation of the OpenAPI document, against resources of user A,
as six actors -- A (bearer), another user B, anonymous, an admin, A's subscription key and
A's read-only API key. Each gets the status in ``EXPECTED``; a refusal (4xx) changes nothing
in the database (a digest of every table, read after the request's session has ended).

The operations come from the OpenAPI document: a new operation without a row in
``EXPECTED`` fails ``test_every_operation_has_an_expectation``, and so does a row for an
operation that no longer exists. What the statuses mean is docs/authorization.md.
"""

from __future__ import annotations

import hashlib
import re
from functools import cached_property

import pytest
import sqlalchemy as sa

from portal.accounts.services import reset_token, verification_token
from portal.accounts.tokens import issue_tokens
from portal.apps.models import AppVisibility
from portal.billing.services import _bill_for
from portal.core.db import utcnow
from portal.core.extensions import db
from portal.execution.catalogue import ensure_catalogue
from portal.execution.models import JobStatus
from portal.marketplace import reviews
from portal.marketplace.models import SubscriptionKey
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory, make_api_key
from tests.factories.apps import QuantumAppFactory, add_version, registry_app
from tests.factories.execution import BELL_QASM2, JobFactory
from tests.factories.marketplace import listed_app, simulator, trial_with_key
from tests.factories.projects import ProjectFactory
from tests.factories.webhooks import webhook_delivery

V1 = "/api/v1"
ACTORS = ("A", "B", "anonymous", "admin", "subscription_key", "read_key")

# One row per operation: the status each actor gets, in the order of ACTORS.
# Reading guide: A owns the resource; B is a stranger (404: another's resource does not
# exist for them; 403 where B may see it but not change it); anonymous is 401 on every
# operation that needs a credential; a subscription key is 403 everywhere except running its
# app and the jobs it started (A's other jobs: 404); a read-only key is 403 on writes.
# {app_id} is A's PRIVATE app (the publish operations: A's public app, which B may see but
# not change: 403), the Registry paths use A's public Registry app, the listing is A's,
# except for reviews and runs: those use the listing A subscribes to (the key's app).
EXPECTED: dict[str, str] = {
    # meta and sign-in: no credential needed, the same for everyone
    "GET /": "200 200 200 200 200 200",
    "POST /auth/register": "201 201 201 201 201 201",
    "POST /auth/login": "200 200 200 200 200 200",
    "POST /auth/refresh": "200 200 200 200 200 200",
    "POST /auth/reset-password": "202 202 202 202 202 202",
    "POST /auth/reset-password/{token}": "200 200 200 200 200 200",
    "GET /auth/verify/{token}": "200 200 200 200 200 200",
    # accounts
    "POST /auth/logout": "204 204 401 204 403 422",
    "GET /auth/me": "200 200 401 200 403 200",
    "GET /users": "403 403 401 200 403 403",
    "GET /users/{user_id}": "200 404 401 200 403 200",
    "PUT /users/{user_id}": "200 404 401 200 403 403",
    "DELETE /users/{user_id}": "204 404 401 204 403 403",
    "GET /users/{user_id}/profile": "200 404 401 200 403 200",
    "PUT /users/{user_id}/profile": "200 404 401 200 403 403",
    "GET /users/{user_id}/preferences": "200 404 401 200 403 200",
    "PUT /users/{user_id}/preferences": "200 404 401 200 403 403",
    "GET /users/{user_id}/sessions": "200 404 401 200 403 200",
    "DELETE /users/{user_id}/sessions/{session_id}": "204 404 401 204 403 403",
    "GET /api-keys": "200 200 401 200 403 200",
    "POST /api-keys": "201 201 401 201 403 403",
    "GET /api-keys/{key_id}": "200 404 401 404 403 200",
    "PUT /api-keys/{key_id}": "200 404 401 404 403 403",
    "DELETE /api-keys/{key_id}": "204 404 401 404 403 403",
    # apps (A's private app) and the Registry (A's public app)
    "GET /quantum-apps/": "200 200 200 200 403 200",  # anonymous callers list public apps
    "POST /quantum-apps/": "201 201 401 201 403 403",
    "GET /quantum-apps/{app_id}": "200 404 401 200 403 200",
    "PUT /quantum-apps/{app_id}": "200 404 401 200 403 403",
    "DELETE /quantum-apps/{app_id}": "204 404 401 204 403 403",
    "POST /quantum-apps/{app_id}/publish-registry": "200 403 401 200 403 403",
    "GET /quantum-apps/{app_id}/metrics": "200 404 401 200 403 200",
    "GET /quantum-apps/{app_id}/versions": "200 404 401 200 403 200",
    "POST /quantum-apps/{app_id}/versions": "201 404 401 201 403 403",
    "GET /quantum-apps/{app_id}/versions/{version_id}": "200 404 401 200 403 200",
    "PUT /quantum-apps/{app_id}/versions/{version_id}": "200 404 401 200 403 403",
    "DELETE /quantum-apps/{app_id}/versions/{version_id}": "204 404 401 204 403 403",
    "GET /quantum-apps/{app_id}/versions/{version_id}/download": "200 404 401 200 403 200",
    "POST /quantum-apps/{app_id}/publish-marketplace": "200 403 401 200 403 403",
    "GET /registry/": "200 200 200 200 200 200",
    "GET /registry/{app_id}": "200 200 200 200 200 200",
    "POST /registry/download/{app_id}": "200 200 200 200 200 200",
    # execution: A's queued job, not started by A's subscription key
    "GET /hardware": "200 200 401 200 403 200",
    "GET /hardware/{ident}": "200 200 401 200 403 200",
    "GET /jobs": "200 200 401 200 200 200",
    "POST /jobs": "201 201 401 201 201 403",
    "POST /jobs/estimate": "200 200 401 200 403 200",
    "GET /jobs/{job_id}": "200 404 401 404 404 200",
    "DELETE /jobs/{job_id}": "200 404 401 404 404 403",
    "PATCH /jobs/{job_id}": "200 404 401 404 403 403",  # tags: the owner's, scope "jobs"
    "GET /jobs/{job_id}/result": "409 404 401 404 404 409",
    # webhooks: a job's deliveries are its owner's (not a subscription key's); the secret is
    # the caller's own
    "GET /jobs/{job_id}/deliveries": "200 404 401 404 403 200",
    "POST /jobs/{job_id}/deliveries/{delivery_id}/replay": "202 404 401 404 403 403",
    "GET /webhook-secret": "200 200 401 200 403 200",
    "POST /webhook-secret/rotate": "200 200 401 200 403 403",
    # projects: the owner's alone (admins too get 404)
    "GET /projects/": "200 200 401 200 403 200",
    "POST /projects/": "201 201 401 201 403 403",
    "GET /projects/{project_id}": "200 404 401 404 403 200",
    "PUT /projects/{project_id}": "200 404 401 404 403 403",
    "DELETE /projects/{project_id}": "204 404 401 404 403 403",
    "GET /projects/{project_id}/files": "200 404 401 404 403 200",
    "POST /projects/{project_id}/files": "201 404 401 404 403 403",
    "GET /projects/{project_id}/files/{path}": "200 404 401 404 403 200",
    "PUT /projects/{project_id}/files/{path}": "200 404 401 404 403 403",
    "PATCH /projects/{project_id}/files/{path}": "200 404 401 404 403 403",
    "DELETE /projects/{project_id}/files/{path}": "204 404 401 404 403 403",
    "POST /projects/{project_id}/analyse": "200 404 401 404 403 200",
    # "Open in IDE": anyone signed in forks a released version of a public Registry app
    "POST /projects/fork": "201 201 401 201 403 403",
    # No worker runs the build's simulation here: an allowed caller gets "checking" (202;
    # the package 409 build_checking), the others are refused before any check is queued.
    "POST /projects/{project_id}/build": "202 404 401 404 403 403",
    "GET /projects/{project_id}/build": "202 404 401 404 403 202",
    "GET /projects/{project_id}/package": "409 404 401 404 403 409",
    "POST /projects/{project_id}/release": "409 404 401 404 403 403",  # waits for the check
    # marketplace: A's listing; reviews and runs on the listing A subscribes to
    "GET /marketplace": "200 200 200 200 200 200",
    "GET /marketplace/{listing_id}": "200 200 200 200 200 200",
    "PUT /marketplace/{listing_id}": "200 403 401 200 403 403",
    "POST /marketplace/{listing_id}/trial": "409 201 401 201 403 403",
    "POST /marketplace/{listing_id}/subscribe": "409 201 401 201 403 403",
    "GET /marketplace/{listing_id}/reviews": "200 200 200 200 200 200",
    "POST /marketplace/{listing_id}/reviews": "409 403 401 403 403 403",
    "PUT /marketplace/{listing_id}/reviews/{review_id}": "200 404 401 404 403 403",
    "DELETE /marketplace/{listing_id}/reviews/{review_id}": "204 404 401 404 403 403",
    "POST /marketplace/{listing_id}/jobs": "201 402 401 402 201 403",
    "GET /subscriptions": "200 200 401 200 403 200",
    "GET /subscriptions/{sub_id}": "200 404 401 404 403 200",
    "PUT /subscriptions/{sub_id}": "200 404 401 404 403 403",
    "DELETE /subscriptions/{sub_id}": "200 404 401 404 403 403",
    "GET /subscriptions/{sub_id}/keys": "200 404 401 404 403 200",
    "POST /subscriptions/{sub_id}/keys": "201 404 401 404 403 403",
    "DELETE /subscriptions/{sub_id}/keys/{key_id}": "200 404 401 404 403 403",
    "POST /payments/stripe/webhook": "404 404 404 404 404 404",
    # billing
    "GET /bills": "200 200 401 200 403 200",
    "GET /bills/{bill_id}": "200 404 401 404 403 200",
    "GET /bills/{bill_id}/download": "200 404 401 404 403 200",
}

# Bodies that an allowed actor's call succeeds with (a refusal must come before validation
# for the stranger's 404 to mean anything).
BODIES = {
    "POST /auth/register": lambda w: {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password": "Analytical-1843",
    },
    "POST /auth/login": lambda w: {"login": w.a_username, "password": DEFAULT_PASSWORD},
    "POST /auth/refresh": lambda w: {"refresh_token": w.refresh_token},
    "POST /auth/reset-password": lambda w: {"email": w.a_email},
    "POST /auth/reset-password/{token}": lambda w: {"password": "Brand-New-Secret-77"},
    "PUT /users/{user_id}": lambda w: {"full_name": "Changed Name"},
    "PUT /users/{user_id}/profile": lambda w: {"organization": "Qubits Inc"},
    "PUT /users/{user_id}/preferences": lambda w: {"default_shots": 2048},
    "POST /api-keys": lambda w: {"name": "CI", "scopes": ["read"]},
    "PUT /api-keys/{key_id}": lambda w: {"name": "renamed"},
    "POST /quantum-apps/": lambda w: {"name": "Brand New", "description": "d"},
    "PUT /quantum-apps/{app_id}": lambda w: {"description": "Changed"},
    "POST /quantum-apps/{app_id}/versions": lambda w: {
        "version_number": "2.0.0",
        "entry_program": w.program,
        "publish": True,
    },
    "PUT /quantum-apps/{app_id}/versions/{version_id}": lambda w: {"release_notes": "Changed."},
    "POST /quantum-apps/{app_id}/publish-marketplace": lambda w: {
        "price": "12.50",
        "subscription_types": ["TRIAL", "MONTHLY"],
    },
    "POST /jobs": lambda w: (
        {"device": "aer-simulator", "shots": 100}
        if w.actor == "subscription_key"
        else {"device": "aer-simulator", "shots": 100, "program": {"source": BELL_QASM2}}
    ),
    "POST /jobs/estimate": lambda w: {"device": "aer-simulator", "shots": 100},
    "PATCH /jobs/{job_id}": lambda w: {"tags": ["mine"]},
    "POST /projects/": lambda w: {"name": "Mine", "template": "bell"},
    "PUT /projects/{project_id}": lambda w: {"name": "Renamed"},
    "POST /projects/fork": lambda w: {
        "app_version_id": str(registry_app(developer=w.a).latest_version.id)
    },
    "POST /projects/{project_id}/files": lambda w: {"path": "lib/x.qasm", "content": "// x\n"},
    "PUT /projects/{project_id}/files/{path}": lambda w: {"content": "// rewritten\n"},
    "PATCH /projects/{project_id}/files/{path}": lambda w: {"path": "moved.qasm"},
    "POST /projects/{project_id}/release": lambda w: {"name": "Release", "version": "0.1.0"},
    "POST /projects/{project_id}/analyse": lambda w: {"source": BELL_QASM2},
    "POST /projects/{project_id}/build": lambda w: {"version": "0.1.0"},
    "PUT /marketplace/{listing_id}": lambda w: {"status": "PAUSED"},
    "POST /marketplace/{listing_id}/subscribe": lambda w: {"subscription_type": "MONTHLY"},
    "POST /marketplace/{listing_id}/reviews": lambda w: {"rating": 5, "title": "Great"},
    "PUT /marketplace/{listing_id}/reviews/{review_id}": lambda w: {"rating": 2, "title": "Meh"},
    "POST /marketplace/{listing_id}/jobs": lambda w: {},
    "PUT /subscriptions/{sub_id}": lambda w: {"status": "CANCELLED"},
    "POST /subscriptions/{sub_id}/keys": lambda w: {"name": "ci"},
    "POST /payments/stripe/webhook": lambda w: {"id": "evt_unsigned"},
}

# Query strings an operation needs.
QUERIES = {
    "GET /projects/{project_id}/package": "?version=0.1.0",
    "GET /projects/{project_id}/build": "?version=0.1.0",
}

# Rows whose columns change on any authenticated call, refused or not (last use, request
# counts): left out of the "a refusal changes nothing" digest.
VOLATILE = ("last_used_at", "last_seen_at", "updated_at", "request_count", "usage_count")
# API calls are counted per user after the request's unit of work, refused calls too
# (docs/unit-of-work.md): that table is the one a refusal may add to.
VOLATILE_TABLES = ("usage_analytics",)


def openapi_operations(app) -> set[str]:
    document = app.test_client().get(V1 + "/openapi.json").get_json()
    return {
        f"{method.upper()} {path.removeprefix(V1)}"
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


class World:
    """A's resources (each made on first use: a case makes only what its path names) and the
    headers of the case's actor."""

    def __init__(self, actor: str):
        self.actor = actor
        ensure_catalogue()
        simulator()
        self.a = UserFactory(provider=True)
        self.a_username, self.a_email = self.a.username, self.a.email
        self.pair = issue_tokens(self.a)
        self.refresh_token = self.pair.refresh_token

    # -- A's resources, made on first use ------------------------------------------------

    @cached_property
    def private_app(self):
        app = QuantumAppFactory(developer=self.a, visibility=AppVisibility.PRIVATE)
        self.version = add_version(app)
        self.program = self.version.entry_program
        return app

    @cached_property
    def draft(self):
        return add_version(self.private_app, number="1.1.0", publish=False)

    @cached_property
    def public_app(self):  # public, not yet in the Registry nor the Marketplace
        app = QuantumAppFactory(developer=self.a)
        add_version(app)
        return app

    @cached_property
    def theirs(self):
        """Another provider's listing, which A subscribes to (with a key) and reviewed."""
        c = UserFactory(provider=True)
        listing = listed_app(developer=c)
        _user, self.sub, self.skey_raw = trial_with_key(listing, user=self.a)
        self.skey = db.session.execute(
            sa.select(SubscriptionKey).filter_by(subscription_id=self.sub.id)
        ).scalar_one()
        self.review = reviews.add_review(self.a, listing, rating=4, title="Good")
        return listing

    @cached_property
    def delivery(self):
        """A delivery attempt of A's finished job with a webhook."""
        job = JobFactory(
            user=self.a,
            hardware=simulator(),
            status=JobStatus.COMPLETED,
            webhook_url="http://127.0.0.1:9/hook",
        )
        return webhook_delivery(job)

    @cached_property
    def project(self):
        return ProjectFactory(user=self.a)

    PARAMS = {
        "user_id": lambda w: w.a.id,
        "session_id": lambda w: issue_tokens(w.a).session.id,
        "key_id": lambda w: make_api_key(w.a)[0].id,
        "app_id": lambda w: w.private_app.id,
        "version_id": lambda w: w.private_app and w.version.id,
        "listing_id": lambda w: listed_app(developer=w.a).id,
        "review_id": lambda w: w.theirs and w.review.id,
        "sub_id": lambda w: w.theirs and w.sub.id,
        "job_id": lambda w: JobFactory(user=w.a, hardware=simulator()).id,
        "project_id": lambda w: w.project.id,
        "path": lambda w: sorted(f.path for f in w.project.files)[0],
        "bill_id": lambda w: _bill_for(w.a.id, utcnow()).id,
        "ident": lambda w: "aer-simulator",
    }
    # Where a path needs another resource of A than PARAMS gives (matched on the operation,
    # then on a fragment of its path).
    OVERRIDES = {
        "DELETE /quantum-apps/{app_id}/versions/{version_id}": {
            "version_id": lambda w: w.draft.id},  # released versions are yanked, not deleted
        "/publish-": {"app_id": lambda w: w.public_app.id},
        "/registry/": {"app_id": lambda w: registry_app(developer=w.a).id},
        "/subscriptions/{sub_id}/keys/": {"key_id": lambda w: w.theirs and w.skey.id},
        "/reviews": {"listing_id": lambda w: w.theirs.id},
        "/marketplace/{listing_id}/jobs": {"listing_id": lambda w: w.theirs.id},
        "/auth/reset-password/": {"token": lambda w: reset_token(w.a)},
        "/auth/verify/": {"token": lambda w: verification_token(w.a)},
        "/deliveries/{delivery_id}": {"job_id": lambda w: w.delivery.job_id,
                                      "delivery_id": lambda w: w.delivery.id},
    }  # fmt: skip

    def url(self, operation: str) -> str:
        path = operation.split(" ", 1)[1]
        makers = dict(self.PARAMS)
        for match, values in self.OVERRIDES.items():
            if match == operation or (" " not in match and match in path):
                makers.update(values)
        names = re.findall(r"\{(\w+)\}", path)
        url = V1 + path.format(**{name: str(makers[name](self)) for name in names})
        return url + QUERIES.get(operation, "")

    def headers(self) -> dict[str, str]:
        def bearer(user):
            return {"Authorization": f"Bearer {issue_tokens(user).access_token}"}

        if self.actor == "A":
            return {"Authorization": f"Bearer {self.pair.access_token}"}
        if self.actor == "B":
            return bearer(UserFactory(provider=True))
        if self.actor == "admin":
            return bearer(UserFactory(admin=True))
        if self.actor == "subscription_key":
            self.theirs  # noqa: B018 - makes A's subscription and its key
            return {"X-API-Key": self.skey_raw}
        if self.actor == "read_key":
            return {"X-API-Key": make_api_key(self.a, name="read only", scopes=("read",))[1]}
        return {}


def digest() -> dict[str, str]:
    """A digest of every table's rows (volatile columns left out), read after the request."""
    db.session.expire_all()
    tables = db.session.execute(
        sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
    ).scalars()
    tables = [table for table in tables if table not in VOLATILE_TABLES]
    drop = " ".join(f"- '{c}'" for c in VOLATILE)
    found = {}
    for table in tables:
        rows = db.session.execute(
            sa.text(f'SELECT (to_jsonb(t) {drop})::text FROM "{table}" t')
        ).scalars()
        found[table] = hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()
    return found


def test_every_operation_has_an_expectation(app):
    operations = openapi_operations(app)
    missing = sorted(operations - EXPECTED.keys())
    stale = sorted(EXPECTED.keys() - operations)
    assert not missing, f"operations without a row in EXPECTED: {missing}"
    assert not stale, f"rows for operations that no longer exist: {stale}"
    for operation, row in EXPECTED.items():
        assert len(row.split()) == len(ACTORS), operation


def test_openapi_says_which_scope_each_operation_needs(app):
    document = app.test_client().get(V1 + "/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete") and operation.get("security"):
                assert operation.get("x-required-scope") in ("read", "jobs", "full"), (
                    method,
                    path,
                )


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("operation", sorted(EXPECTED))
def test_matrix(client, operation, actor):
    expected = int(EXPECTED[operation].split()[ACTORS.index(actor)])
    method = operation.split(" ", 1)[0]
    world = World(actor)
    url, headers = world.url(operation), world.headers()
    body_of = BODIES.get(operation)
    body = body_of(world) if body_of else None
    db.session.commit()
    before = digest() if expected >= 400 else None
    response = client.open(url, method=method, json=body, headers=headers)
    assert response.status_code == expected, (
        f"{actor}: {operation} -> {response.status_code}, expected {expected}: "
        f"{response.get_data(as_text=True)[:300]}"
    )
    if before is not None:
        after = digest()
        changed = [table for table in before if before[table] != after.get(table)]
        assert not changed, f"{actor}: refused {operation} changed {changed}"
