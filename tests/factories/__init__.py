"""factory_boy factories, one module per domain, all writing through ``db.session``."""

import factory

from portal.core.extensions import db


class BaseFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - follows the patched session
        sqlalchemy_session_persistence = "flush"
