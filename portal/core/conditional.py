"""Conditional GETs for what browsers poll: a weak ETag built from a cheap version of what
a response shows (the rows' ``updated_at``, a count, the viewer), checked against the
request's ``If-None-Match`` *before* the expensive part (loading, rendering) is done.

A browser's HTTP cache revalidates on its own: an HTMX poll answered with an ETag and
``Cache-Control: private, no-cache`` is asked again with ``If-None-Match``, and a 304 keeps
what is on the screen. The ``Vary`` headers keep the full page and its HTMX fragment (same
address) and different viewers apart in that cache.

Only for responses whose every input is in the ETag's parts: a view that renders anything
else (the time, a count that changes on its own) must put it in the parts or not use this.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, request

# A page or fragment depends on who asks (the session cookie) and, at the same address, on
# whether HTMX asks for a fragment and which one.
PAGE_VARY = ("Cookie", "HX-Request", "HX-Target")


def weak_etag(*parts: Any) -> str:
    """An opaque tag of ``parts`` (their ``repr``: ids, timestamps, counts, strings)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()


def not_modified(etag: str, vary: tuple[str, ...] = PAGE_VARY) -> Response | None:
    """A 304 when this is a GET (or HEAD) whose ``If-None-Match`` names ``etag`` (weak
    comparison, as RFC 9110 asks for If-None-Match) or ``*``; None otherwise."""
    if request.method not in ("GET", "HEAD"):
        return None
    if not request.if_none_match.contains_weak(etag):
        return None
    return tag(Response(status=304), etag, vary)


def tag(response: Response, etag: str, vary: tuple[str, ...] = PAGE_VARY) -> Response:
    """Mark a 200 (or the 304) with the ETag and the caching rules: only the viewer's own
    cache keeps it (``private``) and it is asked again every time (``no-cache``)."""
    if response.status_code in (200, 304):
        response.set_etag(etag, weak=True)
        response.headers["Cache-Control"] = "private, no-cache"
        response.vary.update(vary)
    return response
