"""The canary pair: each test writes a row and checks none is left from the other. If the
rolled-back transaction ever leaks, whichever of the two runs second fails."""

from portal.accounts.models import User
from portal.core.extensions import db
from tests.factories.accounts import UserFactory


def _canary_count():
    return db.session.execute(
        db.select(db.func.count()).select_from(User).where(User.username.like("canary%"))
    ).scalar_one()


def test_canary_one():
    assert _canary_count() == 0
    UserFactory(username="canary-one")
    db.session.commit()  # a commit inside the code under test must still be rolled back
    assert _canary_count() == 1


def test_canary_two():
    assert _canary_count() == 0
    UserFactory(username="canary-two")
    db.session.commit()
    assert _canary_count() == 1


def test_redis_is_flushed_between_tests_one(redis_flushed):
    assert redis_flushed.get("canary") is None
    redis_flushed.set("canary", "1")


def test_redis_is_flushed_between_tests_two(redis_flushed):
    assert redis_flushed.get("canary") is None
    redis_flushed.set("canary", "2")
