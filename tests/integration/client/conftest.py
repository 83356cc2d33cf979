"""The client against a live portal: the app served over HTTP on a free loopback port (real
commits), the shipped catalogue, a signed-up user, and a real ``flask worker`` process when a
test needs jobs to finish."""

from __future__ import annotations

import pytest

from portal.execution.catalogue import ensure_catalogue
from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory, make_api_key
from tests.worker_process import start_worker  # noqa: F401 - fixture for these tests


@pytest.fixture
def portal(live_server, committed_db):
    """The live portal with the catalogue and one consumer: ``portal.url``, ``portal.user``,
    ``portal.password`` and ``portal.api_key`` (a full-scope key)."""
    ensure_catalogue()
    user = UserFactory()
    _, key = make_api_key(user, name="client tests")
    committed_db.commit()
    live_server.user, live_server.password, live_server.api_key = user, DEFAULT_PASSWORD, key
    yield live_server


@pytest.fixture
def hub(portal):
    from quantum_hub_client import QuantumHubProvider

    return QuantumHubProvider(portal.url, api_key=portal.api_key)


@pytest.fixture
def worker_hub(hub, start_worker):  # noqa: F811 - the imported fixture
    """``hub`` with a real worker running, so jobs complete."""
    hub.worker = start_worker()
    return hub
