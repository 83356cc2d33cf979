import pytest

import portal.models  # noqa: F401 - every model mapped before any app is built
from tests.factories.accounts import UserFactory
from tests.factories.projects import ProjectFactory
from tests.worker_process import start_worker  # noqa: F401 - a real worker for build checks


@pytest.fixture
def owner():
    return UserFactory(provider=True)


@pytest.fixture
def stranger():
    return UserFactory()


@pytest.fixture
def project(owner):
    return ProjectFactory(user=owner, name="Bell lab")


@pytest.fixture
def catalogue():
    """The simulator catalogue (devices the IDE can run on)."""
    from portal.execution.catalogue import ensure_catalogue

    return ensure_catalogue()
