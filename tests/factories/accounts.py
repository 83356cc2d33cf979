import factory

from portal.accounts.models import Role, User, UserProfile
from portal.accounts.passwords import hash_password
from portal.core.db import utcnow
from tests.factories import BaseFactory

DEFAULT_PASSWORD = "Correct-Horse-42"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    # Not a random name: the Registry searches developers' names, so a random "Mark" or
    # "Bell" made searches for "-marked" or "bell" fail now and then.
    full_name = factory.Sequence(lambda n: f"Tess Tester{n}")
    hashed_password = factory.LazyFunction(lambda: hash_password(DEFAULT_PASSWORD))
    roles = factory.LazyFunction(lambda: [Role.CONSUMER.value])
    is_active = True
    email_verified_at = factory.LazyFunction(utcnow)
    preferences = factory.LazyFunction(lambda: {"timezone": "UTC"})

    class Params:
        provider = factory.Trait(roles=[Role.CONSUMER.value, Role.PROVIDER.value], is_provider=True)
        admin = factory.Trait(roles=[Role.CONSUMER.value, Role.ADMIN.value])


class UserProfileFactory(BaseFactory):
    class Meta:
        model = UserProfile

    user = factory.SubFactory(UserFactory)
    organization = factory.Faker("company")


def make_api_key(user, name: str = "test key", scopes=("full",), **kwargs):
    """A key for ``user`` made by the service: returns (row, full key)."""
    from portal.accounts.services import create_api_key

    return create_api_key(user, name=name, scopes=list(scopes), **kwargs)
