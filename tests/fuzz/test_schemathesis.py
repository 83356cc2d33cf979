"""Property-based fuzzing of every operation in ``/api/v1/openapi.json`` with schemathesis,
through the WSGI app (no server), authenticated as a seeded user with every role.

Checks: no 5xx, every status code documented, the documented content type, and the body
matches the documented schema. Examples per operation are bounded and derandomised so the
suite is deterministic and fits in CI.
"""

from __future__ import annotations

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
