"""One unit of work per request, per CLI command and per worker step.

A request that succeeded is committed in exactly one place, ``PortalFlask.finalize_request``;
a request that failed is rolled back there. A request failed when its view raised, when its
response is an error (status 400 or more: a form re-rendered with its errors answers 422), or
when its view said so with ``refuse()`` (a refusal answered by a redirect with a message).
Views and API routes never commit or roll back.

Work that must only happen once the data is really stored — enqueueing a job, sending mail —
is registered with ``after_commit`` and runs after the commit succeeded; a rollback drops it.
CLI commands and the worker wrap their work in ``unit_of_work()``, which does the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog
from flask import Flask, Response, g
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.core.extensions import db

log = structlog.get_logger("portal.uow")

_HOOKS = "qh_after_commit"


def _session():
    return db.session()


def after_commit(hook: Callable[[], object]) -> None:
    """Run ``hook`` once the current transaction has committed; a rollback drops it.

    Hooks run inside SQLAlchemy's ``after_commit`` event, whoever commits, in registration
    order. The session cannot run SQL there, so a hook must use only values it captured
    (ids, not ORM objects, whose attributes a commit may have expired)."""
    session = _session()
    if not session.in_transaction():
        session.begin()  # so that a rollback, which drops the hook, has a transaction to end
    session.info.setdefault(_HOOKS, []).append(hook)


@event.listens_for(Session, "after_commit")
def _run_hooks(session: Session) -> None:
    for hook in session.info.pop(_HOOKS, []):
        try:
            hook()
        except Exception:  # the data is stored; a failed side effect must not undo that
            log.exception("after-commit hook failed", hook=getattr(hook, "__qualname__", "?"))


@event.listens_for(Session, "after_soft_rollback")
def _drop_hooks(session: Session, previous_transaction) -> None:
    if not session.in_transaction():  # the outermost transaction ended: nothing was stored
        session.info.pop(_HOOKS, None)


def refuse() -> None:
    """This request failed although its answer is not an error status (a redirect carrying
    the refusal's message): roll its unit of work back, so nothing half-done is stored."""
    g.qh_refused = True


def commit(*, expire: bool = True) -> None:
    """Commit the unit of work so far (its after-commit hooks then run).

    The request boundary, ``unit_of_work()`` and the worker's steps call this; a use case
    calls it only when it must hand committed work to another process and wait for it (a
    blocking job). ``expire=False`` keeps loaded objects as they are (the request boundary:
    its after-request hooks read the user it just wrote, no reload needed)."""
    session = _session()
    keep = session.expire_on_commit
    session.expire_on_commit = expire
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.expire_on_commit = keep


def rollback() -> None:
    """Discard the unit of work and its after-commit hooks."""
    _session().rollback()


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit what the block did if it returns, roll it back if it raises."""
    try:
        yield
    except BaseException:
        rollback()
        raise
    commit()


def finish_request(response: Response) -> None:
    """Commit a successful request, roll back a failed one."""
    if response.status_code >= 400 or g.get("qh_refused"):
        rollback()
    else:
        commit(expire=False)


class PortalFlask(Flask):
    """Flask whose every request is one unit of work (see the module docstring)."""

    def finalize_request(self, rv, from_error_handler: bool = False) -> Response:
        response = self.make_response(rv)
        try:
            finish_request(response)
        except Exception as exc:
            if from_error_handler:
                raise
            # A failed commit is answered by the app's error handlers (503 when the database
            # is unreachable), never as the success the view had prepared.
            response = self.make_response(self.handle_user_exception(exc))
        return super().finalize_request(response, from_error_handler)
