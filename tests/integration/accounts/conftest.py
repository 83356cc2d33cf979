import pytest

from tests.factories.accounts import DEFAULT_PASSWORD, UserFactory


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def other_user():
    return UserFactory()


@pytest.fixture
def admin():
    return UserFactory(admin=True)


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


def error_of(response, status):
    """The error envelope of ``response``, after checking its status and shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]
