"""A short-lived Redis cache for listing pages: which ids are on a page and the total (what
the API shows), the rendered results HTML (what the pages show), and whole public pages for
visitors who are not signed in (``shared_page``).

The expensive part of a listing is the search, filter, sort and COUNT(*) over the whole
catalogue, then loading and rendering its 12–20 cards; the same results are shown to every
visitor. So ids and totals, and the rendered fragment, are cached (JSON, never pickles), for
``LISTING_CACHE_SECONDS`` (``QH_LISTING_CACHE_SECONDS``).
Every commit that changed an app, version, tag, doc or listing bumps a generation counter
that each entry records, so a publish, edit or delisting shows at once (an entry of an older
generation counts as absent; the counter and the entry are read in one round trip, ``MGET``);
counters that
change on every view (metrics) lag by about the TTL (a stale entry is served while one
request refreshes it). With a TTL of 0, every call computes. A Redis
failure never fails a page: the value is then computed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import structlog
from flask import Response, current_app, g, has_app_context, make_response, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.core.queue import redis_connection

log = structlog.get_logger(__name__)

GENERATION_KEY = "qh:cache:listings:gen"
# How long a request waits for an entry that another request is computing.
COLD_WAIT_SECONDS = 3.0
# Tables whose changes alter what a listing shows or in which order: each domain names its
# own with ``watch`` where its models are defined (apps, marketplace).
WATCHED: set[str] = set()


def watch(*models) -> None:
    """A change to any of these models' rows makes the cached listings stale."""
    WATCHED.update(model.__tablename__ for model in models)


def _client():
    if not has_app_context():
        return None
    if int(current_app.config.get("LISTING_CACHE_SECONDS") or 0) <= 0:
        return None
    return redis_connection()


def remember(name: str, parts: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """``compute()`` (JSON-serialisable), cached under ``name`` + ``parts``.

    An entry is fresh for the TTL and kept twice as long: once it is stale, the one request
    that wins a short Redis lock recomputes it while the others go on serving the stale
    entry, so an expiry never sends every concurrent request to the database at once. An
    entry not there at all (or of an older generation) is computed by the lock's winner too;
    the others wait for it (up to ``COLD_WAIT_SECONDS``). Round trips: a hit 1 (the
    generation and the entry together), a miss 3 (that, the lock, then the entry written and
    the lock released together)."""
    client = _client()
    if client is None:
        return compute()
    ttl = int(current_app.config["LISTING_CACHE_SECONDS"])
    try:
        digest = hashlib.sha1(  # noqa: S324 - a cache key, not a secret
            json.dumps(parts, sort_keys=True, default=str).encode()
        ).hexdigest()
        key = f"qh:cache:{name}:{digest}"
        raw_generation, raw = client.mget(GENERATION_KEY, key)
        generation = int(raw_generation or 0)
        entry = _current(raw, generation)
        if entry is not None:
            if entry["fresh_until"] > time.time():
                return entry["value"]
            if not client.set(f"{key}:refresh", 1, nx=True, ex=max(5, ttl)):
                return entry["value"]  # another request is refreshing it
        elif not client.set(f"{key}:refresh", 1, nx=True, ex=max(5, ttl)):
            # Not cached yet and another request is computing it (a cold start, or just
            # after a change): wait for its result rather than run the same query too.
            entry = _wait_for(client, key, generation)
            if entry is not None:
                return entry["value"]
    except Exception as exc:  # the cache is an optimisation only
        log.warning("cache_unavailable", error=str(exc))
        return compute()
    try:
        value = compute()
    except BaseException:  # nothing to cache (an error page, a bad filter): let others try
        _release(client, f"{key}:refresh")
        raise
    try:
        entry = {"value": value, "fresh_until": time.time() + ttl, "generation": generation}
        with client.pipeline(transaction=False) as pipe:  # one round trip
            pipe.set(key, json.dumps(entry), ex=2 * ttl)
            pipe.delete(f"{key}:refresh")
            pipe.execute()
    except Exception as exc:
        log.warning("cache_unavailable", error=str(exc))
    return value


def _current(raw: bytes | None, generation: int) -> dict | None:
    """The entry ``raw`` if it was computed in this ``generation``: an entry from before the
    last catalogue change is as good as absent."""
    if raw is None:
        return None
    entry = json.loads(raw)
    return entry if entry.get("generation") == generation else None


def _release(client, lock: str) -> None:
    try:
        client.delete(lock)
    except Exception as exc:
        log.warning("cache_unavailable", error=str(exc))


def _wait_for(client, key: str, generation: int) -> dict | None:
    """The entry another request is computing, polled for up to ``COLD_WAIT_SECONDS``."""
    deadline = time.monotonic() + COLD_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.02)
        entry = _current(client.get(key), generation)
        if entry is not None:
            return entry
    return None  # too slow (or the other request failed): compute it here


def fragment(name: str, parts: dict[str, Any], render: Callable[[], str]) -> Markup:
    """Rendered HTML that is the same for everyone asking with these ``parts``, cached like
    ``remember``. ``render`` must not depend on anything else (the viewer, the time)."""
    return Markup(remember(f"{name}-html", parts, render))  # noqa: S704 - our own template


# What ``csrf_token()`` gives templates while a shared page renders for the cache: each
# visitor's own token replaces it when the page is served (forms keep working).
CSRF_HOLE = "qh-csrf-token-of-the-visitor"


class _NotShared(Exception):
    def __init__(self, response: Response):
        self.response = response


def template_csrf_token() -> str:
    """``csrf_token()`` in templates (see ``CSRF_HOLE``)."""
    return CSRF_HOLE if g.get("qh_shared_render") else generate_csrf()


def _shareable() -> bool:
    """A visitor with nothing personal on the page: not signed in, no flashed message, a
    full page load (HTMX swaps get their own fragments)."""
    return (
        request.method == "GET"
        and "HX-Request" not in request.headers
        and "_flashes" not in session
        and not current_user.is_authenticated
    )


def shared_page(name: str, parts: dict[str, Any], render: Callable[[], Any]) -> Response:
    """The whole page ``render()`` returns, cached like ``remember`` (with the address, so
    every query parameter counts) for visitors who are not signed in; everyone else, and
    any answer but a 200 HTML page, gets ``render()`` itself."""
    if not _shareable():
        return make_response(render())

    def compute() -> str:
        g.qh_shared_render = True
        try:
            response = make_response(render())
        finally:
            g.qh_shared_render = False
        if response.status_code != 200 or response.mimetype != "text/html":
            raise _NotShared(response)
        return response.get_data(as_text=True)

    try:
        html = remember(f"{name}-page", {**parts, "path": request.full_path}, compute)
    except _NotShared as exc:
        return exc.response
    return make_response(html.replace(CSRF_HOLE, generate_csrf()))


def invalidate() -> None:
    client = _client()
    if client is not None:
        try:
            client.incr(GENERATION_KEY)
        except Exception as exc:
            log.warning("cache_unavailable", error=str(exc))


@event.listens_for(Session, "after_flush")
def _note_changes(session, _context) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if getattr(obj, "__tablename__", None) in WATCHED:
            session.info["qh_listings_changed"] = True
            return


@event.listens_for(Session, "after_commit")
def _bump_generation(session) -> None:
    if session.info.pop("qh_listings_changed", False):
        invalidate()


@event.listens_for(Session, "after_rollback")
def _forget_changes(session) -> None:
    session.info.pop("qh_listings_changed", None)
