import pytest

from tests.factories.marketplace import listed_app, simulator


@pytest.fixture
def device():
    return simulator()


@pytest.fixture
def listing(device):
    return listed_app()
