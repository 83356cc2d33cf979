"""A short-lived Redis cache for listing pages (which ids are on a page, and the total).

The expensive part of a listing is the search, filter, sort and COUNT(*) over the whole
catalogue; loading the 12–20 rows shown by primary key is cheap. So only ids and totals are
cached (JSON, never pickles), for ``LISTING_CACHE_SECONDS`` (``QH_LISTING_CACHE_SECONDS``).
Every commit that changed an app, version, tag or listing bumps a generation counter that is
part of each key, so a publish, edit or delisting shows at once; counters that change on
every view (metrics) may lag by at most the TTL. Without Redis, or with a TTL of 0, every call
computes. A Redis failure never fails a page: the value is then computed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import structlog
from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = structlog.get_logger(__name__)

GENERATION_KEY = "qh:cache:listings:gen"
# Tables whose changes alter what a listing shows or in which order.
WATCHED = frozenset({"quantum_apps", "app_versions", "tags", "marketplace_listings", "reviews"})


def _client():
    if not has_app_context() or not current_app.config.get("REDIS_URL"):
        return None
    if int(current_app.config.get("LISTING_CACHE_SECONDS") or 0) <= 0:
        return None
    from portal.core.queue import redis_connection

    return redis_connection()


def remember(name: str, parts: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """``compute()`` (JSON-serialisable), cached under ``name`` + ``parts``."""
    client = _client()
    if client is None:
        return compute()
    try:
        generation = int(client.get(GENERATION_KEY) or 0)
        digest = hashlib.sha1(  # noqa: S324 - a cache key, not a secret
            json.dumps(parts, sort_keys=True, default=str).encode()
        ).hexdigest()
        key = f"qh:cache:{name}:{generation}:{digest}"
        raw = client.get(key)
        if raw is not None:
            return json.loads(raw)
    except Exception as exc:  # the cache is an optimisation only
        log.warning("cache_unavailable", error=str(exc))
        return compute()
    value = compute()
    try:
        client.set(key, json.dumps(value), ex=int(current_app.config["LISTING_CACHE_SECONDS"]))
    except Exception as exc:
        log.warning("cache_unavailable", error=str(exc))
    return value


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
