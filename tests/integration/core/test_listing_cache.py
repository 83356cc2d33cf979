"""The listing cache (portal/core/cache.py) on real Redis: pages reuse cached ids and totals,
a commit that changes an app or listing shows at once, and a dead Redis only costs speed."""

import pytest
import sqlalchemy as sa

from portal.apps import registry
from portal.apps.models import QuantumApp
from portal.core import cache
from portal.extensions import db
from portal.marketplace import services as marketplace
from tests.factories.apps import registry_app
from tests.factories.marketplace import listed_app


@pytest.fixture
def caching(app, monkeypatch):
    monkeypatch.setitem(app.config, "LISTING_CACHE_SECONDS", 30)


def test_registry_page_is_cached_until_a_commit_changes_an_app(caching, redis_flushed):
    first = registry_app(name="Bell Pair")
    db.session.commit()
    assert [a.name for a in registry.browse().items] == ["Bell Pair"]
    assert redis_flushed.keys("qh:cache:registry:*")

    # A change that bypasses the ORM (no invalidation) is not seen while the entry lives...
    db.session.execute(sa.update(QuantumApp).where(QuantumApp.id == first.id).values(name="X"))
    db.session.expire_all()
    page = registry.browse()
    assert page.total == 1 and [a.id for a in page.items] == [first.id]

    # ...while an ORM commit touching an app bumps the generation: the new app shows at once.
    registry_app(name="Grover Search")
    db.session.commit()
    assert registry.browse().total == 2
    assert int(redis_flushed.get(cache.GENERATION_KEY)) >= 1


def test_marketplace_page_is_cached_and_invalidated(caching, redis_flushed):
    listed_app(name="Bell Pair")
    db.session.commit()
    assert marketplace.browse().total == 1
    assert redis_flushed.keys("qh:cache:marketplace:*")
    listed_app(name="Grover Search")
    db.session.commit()
    page = marketplace.browse(sort="newest")
    assert page.total == 2 and page.items[0].app.name == "Grover Search"


def test_rollback_does_not_invalidate(caching, redis_flushed):
    registry_app(name="Bell Pair")
    db.session.commit()
    registry.browse()
    before = redis_flushed.get(cache.GENERATION_KEY)
    registry_app(name="Never Committed")
    db.session.flush()
    db.session.rollback()
    assert redis_flushed.get(cache.GENERATION_KEY) == before


def test_without_redis_or_ttl_it_computes_every_time(app, monkeypatch, redis_flushed):
    calls = []
    assert cache.remember("x", {}, lambda: calls.append(1) or 1) == 1  # TTL 0 in tests
    monkeypatch.setitem(app.config, "LISTING_CACHE_SECONDS", 30)
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")  # nothing listens
    monkeypatch.setitem(app.extensions, "qh_redis", {})
    assert cache.remember("x", {}, lambda: calls.append(1) or 2) == 2
    cache.invalidate()  # logged, not raised
    assert len(calls) == 2
