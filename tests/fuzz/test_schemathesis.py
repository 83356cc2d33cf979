"""Property-based fuzzing of every operation in ``/api/v1/openapi.json`` with schemathesis,
through the WSGI app (no server), authenticated as a seeded user with every role.

Checks: no 5xx, every status code documented, the documented content type, and the body
matches the documented schema. Examples per operation are bounded and derandomised so the
suite is deterministic and fits in CI.
"""

from __future__ import annotations

import itertools
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal import create_app
from portal.accounts.tokens import issue_tokens
from portal.execution.catalogue import ensure_catalogue
from tests.conftest import make_config
from tests.factories.accounts import UserFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 6

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def fuzz_headers(db_session):
    """Bearer headers of a user who is consumer, provider and admin (reaches every route)."""
    ensure_catalogue()
    user = UserFactory(roles=["CONSUMER", "PROVIDER", "ADMIN"], is_provider=True)
    db_session.flush()
    return {"Authorization": f"Bearer {issue_tokens(user).access_token}"}


# Collection needs the operations before any fixture runs, so the schema comes from an app
# built here (create_app touches neither the database nor Redis). Requests go to that app;
# its database session is the test's (the db_session fixture patches ``db.session``).
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app(make_config()))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_holds_its_contract(case, fuzz_headers):
    response = case.call_and_validate(headers=fuzz_headers, checks=CHECKS)  # raises on failure
    assert response.status_code < 500


# The writing operations again, with hostile values put into the generated bodies: strings
# from all of Unicode (schemathesis draws no lone surrogates, which JSON carries as escapes, so
# every other case gets one in each string) and extreme numbers in place of every number
# (1.5 for integers, -1, 10**30, 10**400, NaN, Infinity: Python's json writes and reads those).
# Whatever the body holds, no 5xx.
unicode_schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app(make_config()))
unicode_schema.config.generation.update(codec=None, allow_x00=True)
HOSTILE_NUMBERS = [1.5, -1, 10**30, 10**400, float("nan"), float("inf"), 2**31, -(2**63)]
_cases = itertools.count()


def hostile(value, turn: int, strings: bool):
    """``value`` with hostile strings (``strings``) or hostile numbers, all the way down."""
    if isinstance(value, dict):
        return {k: hostile(v, turn + i, strings) for i, (k, v) in enumerate(value.items())}
    if isinstance(value, list):
        return [hostile(v, turn + i, strings) for i, v in enumerate(value)]
    if isinstance(value, str) and strings:
        return value[: turn % (len(value) + 1)] + "\ud800" + value[turn % (len(value) + 1) :]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not strings:
        return HOSTILE_NUMBERS[turn % len(HOSTILE_NUMBERS)]
    return value


@unicode_schema.include(method=["POST", "PUT", "PATCH"]).parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_writes_with_hostile_values_never_fail_on_the_server(case, fuzz_headers, client):
    turn = next(_cases)
    if not isinstance(case.body, (dict, list)):
        return  # multipart uploads and empty bodies: the first test covers them
    body = hostile(case.body, turn, strings=turn % 2 == 0)
    # Serialised here: schemathesis refuses to write NaN, Infinity and lone surrogates.
    response = client.open(
        case.formatted_path,
        method=case.method,
        query_string=case.query or None,
        headers={**(case.headers or {}), **fuzz_headers},
        data=json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code < 500, (case.method, case.formatted_path, body)
