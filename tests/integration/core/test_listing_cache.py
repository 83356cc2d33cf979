"""The listing cache (portal/core/cache.py) on real Redis: pages reuse cached ids and totals,
a commit that changes an app or listing shows at once, and a dead Redis only costs speed."""

import re

import pytest
import sqlalchemy as sa

from portal.apps import registry
from portal.apps.models import QuantumApp
from portal.core import cache
from portal.core.extensions import db
from portal.marketplace import listings
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
    assert listings.browse().total == 1
    assert redis_flushed.keys("qh:cache:marketplace:*")
    listed_app(name="Grover Search")
    db.session.commit()
    page = listings.browse(sort="newest")
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


def test_a_stale_entry_is_refreshed_by_one_request_while_others_serve_it(
    caching, redis_flushed, monkeypatch
):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert cache.remember("x", {"p": 1}, compute) == 1
    assert cache.remember("x", {"p": 1}, compute) == 1  # fresh: not computed again
    [key] = [k for k in redis_flushed.keys("qh:cache:x:*") if not k.endswith(b":refresh")]
    assert 30 < redis_flushed.ttl(key) <= 60  # kept twice the TTL

    later = cache.time.time() + 31  # past the TTL
    monkeypatch.setattr(cache.time, "time", lambda: later)
    redis_flushed.set(key + b":refresh", 1)  # another request is refreshing it
    assert cache.remember("x", {"p": 1}, compute) == 1 and len(calls) == 1
    redis_flushed.delete(key + b":refresh")
    assert cache.remember("x", {"p": 1}, compute) == 2  # this one refreshes it
    assert not redis_flushed.exists(key + b":refresh")
    monkeypatch.setattr(cache.time, "time", lambda: later + 1)
    assert cache.remember("x", {"p": 1}, compute) == 2 and len(calls) == 2


def test_a_missing_entry_is_computed_once_while_concurrent_requests_wait(
    app, caching, redis_flushed
):
    import threading

    calls, results, started = [], [], threading.Event()

    def slow():
        calls.append(1)
        started.set()
        threading.Event().wait(0.4)  # a slow query
        return "computed once"

    def other_request():
        with app.app_context():
            results.append(cache.remember("cold", {}, lambda: calls.append(1) or "again"))

    with app.app_context():
        waiting = threading.Thread(target=lambda: (started.wait(5), other_request()))
        waiting.start()
        assert cache.remember("cold", {}, slow) == "computed once"
    waiting.join(10)
    assert results == ["computed once"] and len(calls) == 1  # it waited, did not compute
    assert not redis_flushed.keys("qh:cache:cold:*:refresh")


def test_a_failed_computation_releases_its_lock_at_once(caching, redis_flushed):
    def broken():
        raise RuntimeError("bad filter")

    with pytest.raises(RuntimeError):
        cache.remember("cold", {}, broken)
    assert not redis_flushed.keys("qh:cache:cold:*:refresh")  # the next request computes
    assert cache.remember("cold", {}, lambda: "fine") == "fine"


@pytest.mark.parametrize(
    ("path", "make", "target"),
    [
        ("/registry/", registry_app, "registry-results"),
        ("/marketplace/", listed_app, "results"),
    ],
)
def test_listing_pages_serve_their_rendered_results_from_the_cache(
    client, caching, redis_flushed, statements, path, make, target
):
    make(name="Bell Pair")
    db.session.commit()
    assert "Bell Pair" in client.get(path).get_data(as_text=True)
    assert redis_flushed.keys("qh:cache:*-html:*")

    statements.clear()
    again = client.get(path, headers={"HX-Request": "true", "HX-Target": target})
    assert "Bell Pair" in again.get_data(as_text=True)
    assert statements == []  # the fragment came from Redis: no query at all

    make(name="Grover Search")  # a commit changing the catalogue shows at once
    db.session.commit()
    assert "Grover Search" in client.get(path).get_data(as_text=True)


def test_a_bad_filter_is_explained_and_not_cached(client, caching, redis_flushed):
    page = client.get("/registry/?min_qubits=lots")
    assert page.status_code == 200 and "min_qubits must be a whole number" in page.get_data(
        as_text=True
    )
    assert not redis_flushed.keys("qh:cache:registry-html:*")


def test_an_app_page_caches_its_readme_part_and_still_counts_every_view(
    client, caching, redis_flushed
):
    from portal.apps import metrics

    app = registry_app(name="Bell Pair", readme_content="# Bell\n\nFirst text.")
    db.session.commit()
    assert b"First text." in client.get(f"/registry/{app.id}").data
    assert redis_flushed.keys("qh:cache:registry-app-html:*")

    # Bypassing the ORM (no invalidation), the cached README part is served...
    db.session.execute(
        sa.update(QuantumApp).where(QuantumApp.id == app.id).values(readme_content="Second.")
    )
    db.session.commit()
    assert b"First text." in client.get(f"/registry/{app.id}").data
    # ...while an edit through the app shows at once.
    db.session.refresh(app)
    app.readme_content = "Third text."
    db.session.commit()
    assert b"Third text." in client.get(f"/registry/{app.id}").data
    assert metrics.app_metrics(app.id).views == 3


def test_the_registry_api_page_is_cached(client, caching, redis_flushed, statements):
    registry_app(name="Bell Pair")
    db.session.commit()
    first = client.get("/api/v1/registry/?q=bell")
    statements.clear()
    again = client.get("/api/v1/registry/?q=bell")
    assert again.json == first.json and first.json["items"][0]["name"] == "Bell Pair"
    assert statements == []


def _without_csrf_tokens(body: bytes) -> bytes:
    # A CSRF token is signed with the second it was made: two requests straddling a second
    # boundary get different tokens for the same session, so compare the pages without them.
    # A signed token is itsdangerous' payload.timestamp.signature, each part URL-safe base64.
    return re.sub(rb'"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}"', b'"TOKEN"', body)


def _public_paths():
    bell = registry_app(name="Bell Pair", readme_content="# Bell\n\nFirst text.")
    on_sale = listed_app(name="Grover Search")
    db.session.commit()
    return [
        "/registry/",
        "/registry/?q=bell",
        f"/registry/{bell.id}",
        "/marketplace/",
        f"/marketplace/{on_sale.id}",
    ]


def test_public_pages_are_served_whole_from_the_cache_to_visitors(
    client, caching, redis_flushed, statements, monkeypatch, app
):
    from portal.analytics import counters

    monkeypatch.setitem(app.config, "COUNTER_FLUSH_SECONDS", 60)  # views wait in Redis
    redis_flushed.set(counters.FLUSH_DUE, 1, ex=60)
    paths = _public_paths()
    first = {path: client.get(path) for path in paths}
    assert all(r.status_code == 200 for r in first.values())
    assert len(redis_flushed.keys("qh:cache:*-page:*")) == len(paths)

    statements.clear()
    for path in paths:
        again = client.get(path)
        assert again.status_code == 200, path
        assert _without_csrf_tokens(again.data) == _without_csrf_tokens(first[path].data), path
    # Whole pages from Redis: not one query, not even the view count (the test harness's
    # own savepoints aside: each request ends with a commit of nothing).
    assert [s for s in statements if "SAVEPOINT" not in s] == []
    assert int(redis_flushed.hget(counters.VIEWS, paths[2].rsplit("/", 1)[1])) == 2

    registry_app(name="Deutsch Jozsa")  # a catalogue change shows at once
    db.session.commit()
    assert b"Deutsch Jozsa" in client.get("/registry/").data


def test_signed_in_people_and_flashed_messages_never_get_the_shared_page(
    client, caching, redis_flushed, login_as
):
    from tests.factories.accounts import UserFactory

    paths = _public_paths()
    for path in paths:
        client.get(path)
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Signed out.")]
    assert b"Signed out." in client.get("/registry/").data  # rendered for this visitor

    login_as(UserFactory(username="ada"))
    for path in paths:
        page = client.get(path).get_data(as_text=True)
        assert 'data-testid="signed-in-as">ada<' in page, path


def test_a_missing_page_is_not_cached(client, caching, redis_flushed):
    assert client.get("/registry/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/marketplace/not-a-listing").status_code == 404
    assert not redis_flushed.keys("qh:cache:*-page:*")


def test_each_visitor_of_a_shared_page_gets_their_own_csrf_token(redis_flushed):
    from portal import create_app
    from tests.conftest import make_config

    application = create_app(make_config(WTF_CSRF_ENABLED=True, LISTING_CACHE_SECONDS=30))
    with application.app_context():
        bell = registry_app(name="Bell Pair")
        db.session.commit()
        path = f"/registry/{bell.id}"
    tokens = []
    for _ in range(2):
        visitor = application.test_client()
        html = visitor.get(path).get_data(as_text=True)
        assert cache.CSRF_HOLE not in html
        token = html.split('name="csrf-token" content="')[1].split('"')[0]
        tokens.append(token)
        # The download form on the cached page works with this visitor's own token.
        download = visitor.post(f"{path}/download", data={"csrf_token": token})
        assert download.status_code == 200, download.get_data(as_text=True)[:300]
    assert len(redis_flushed.keys("qh:cache:registry-app-page:*")) == 1
    assert tokens[0] != tokens[1]


def test_every_page_of_a_listing_shares_one_count(caching, redis_flushed, statements):
    for i in range(3):
        registry_app(name=f"App {i}")
        listed_app(name=f"Listed {i}")
    db.session.commit()
    statements.clear()
    for page in (1, 2, 3):
        assert registry.browse(page=page, per_page=1).total == 3
        assert listings.browse(page=page, per_page=1).total == 3
    counts = [s for s in statements if "count(*)" in s.lower()]
    assert len(counts) == 2  # one per listing, not one per page


def test_ten_registry_pages_come_from_one_query(app, caching, redis_flushed, statements):
    for i in range(23):
        registry_app(name=f"App {i:02}")
    db.session.commit()
    statements.clear()
    pages = [registry.browse(page=p, per_page=2, sort="name") for p in range(1, 13)]
    names = [a.name for page in pages for a in page.items]
    assert names == [f"App {i:02}" for i in range(23)]  # every app once, in order
    assert pages[-1].total == 23 and pages[-1].pages == 12
    id_queries = [
        s for s in statements if s.startswith("SELECT quantum_apps.id") and "featured" not in s
    ]
    assert len(id_queries) == 2  # pages 1–10, then 11–12

    app.config["LISTING_CACHE_SECONDS"] = 0  # the same pages, computed each time
    assert [a.name for p in range(1, 13) for a in registry.browse(page=p, per_page=2,
            sort="name").items] == names  # fmt: skip


@pytest.fixture
def round_trips(monkeypatch):
    """Redis round trips sent from here on (a pipeline is one)."""
    import redis.connection

    sent = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


def test_a_hit_costs_one_round_trip_and_a_miss_three(caching, redis_flushed, round_trips):
    cache._client().ping()  # the connection's own handshake aside
    round_trips.clear()
    assert cache.remember("x", {"p": 1}, lambda: "computed") == "computed"
    assert len(round_trips) == 3  # generation + entry, the lock, entry written + lock freed
    assert not redis_flushed.keys("qh:cache:x:*:refresh")
    round_trips.clear()
    assert cache.remember("x", {"p": 1}, lambda: "again") == "computed"
    assert len(round_trips) == 1  # the generation and the entry, in one MGET

    cache.invalidate()  # an entry of an older generation is as good as absent
    assert cache.remember("x", {"p": 1}, lambda: "new") == "new"
    assert cache.remember("x", {"p": 1}, lambda: "newer") == "new"
