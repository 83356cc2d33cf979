"""Operations: structured logs with a request id, Prometheus metrics, health probes."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

import sqlalchemy as sa
import structlog
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from portal.core import tracing, uow
from portal.core.extensions import db
from portal.core.heartbeats import seconds_since_alive
from portal.core.queue import redis_connection

bp = Blueprint("ops", __name__)

# One registry per process; tests create many apps, so metrics must not be re-registered.
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "qh_http_requests_total",
    "HTTP requests by endpoint, method and status",
    ["method", "endpoint", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "qh_http_request_duration_seconds",
    "HTTP request latency by endpoint",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)

WEBHOOK_EVENTS = Counter(
    "qh_webhook_events_total",
    "Payment webhook deliveries by provider, event type and outcome",
    ["provider", "type", "outcome"],
    registry=REGISTRY,
)

# A caller's request id is echoed back only if it is short and plain, so it cannot inject
# anything into logs or headers.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = structlog.get_logger("portal")


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    """structlog for the portal's own lines and the standard library's (werkzeug, rq)."""
    shared = [
        structlog.contextvars.merge_contextvars,
        tracing.add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # Below the level, a line is dropped before any processor formats it.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Qiskit logs every transpiler pass at INFO: a line per pass per job, noise in any log.
    logging.getLogger("qiskit").setLevel(max(logging.WARNING, root.level))


def _before_request() -> None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=g.request_id)


def _loggable_path() -> str:
    """The path without secrets: e-mailed links carry their token in the URL (``<token>``)."""
    token = (request.view_args or {}).get("token")
    return request.path.replace(str(token), "[redacted]") if token else request.path


def _after_request(response: Response) -> Response:
    if (request.view_args or {}).get("token"):
        # The request span (started by the Flask instrumentation after our own hooks) is
        # still open here: overwrite its URL attributes without the mail-link token.

        tracing.redact_current_span(_loggable_path())
    request_id = getattr(g, "request_id", None)
    if request_id:
        response.headers["X-Request-ID"] = request_id
    started = getattr(g, "request_started", None)
    endpoint = request.endpoint or "unmatched"
    if started is not None and endpoint != "ops.metrics":
        elapsed = time.perf_counter() - started
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        LATENCY.labels(request.method, endpoint).observe(elapsed)
        log.info(
            "request",
            method=request.method,
            path=_loggable_path(),
            status=response.status_code,
            duration_ms=round(elapsed * 1000, 2),
        )
    return response


def init_app(app: Flask) -> None:
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers."""
    return jsonify(status="ok")


def readiness_problems() -> list[str]:
    """What stops this instance from serving: the database or Redis not answering."""
    problems = []
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        uow.rollback()
        problems.append(f"database unreachable: {type(exc).__name__}")
    try:
        redis_connection().ping()
    except Exception as exc:
        problems.append(f"redis unreachable: {type(exc).__name__}")
        return problems
    problems.extend(_worker_problems(redis_connection()))
    return problems


def _worker_problems(redis) -> list[str]:
    """With ``READYZ_WORKER_SECONDS`` set: no worker has beaten within that many seconds
    (their heartbeats, ``portal.core.heartbeats``), so jobs would wait forever."""
    within = current_app.config.get("READYZ_WORKER_SECONDS") or 0
    if within <= 0:
        return []

    try:
        since = seconds_since_alive(redis)
    except Exception as exc:
        return [f"workers unknown: {type(exc).__name__}"]
    if since is None or since > within:
        return [f"workers: no worker has beaten in {within} s"]
    return []


@bp.get("/readyz")
def readyz():
    """Readiness: 200 when the database and Redis answer (and, with
    ``READYZ_WORKER_SECONDS``, a worker has beaten lately), else 503 with the reasons.
    ``?workers=0`` leaves the worker check out of the status (the web pods' probe: a web
    replica is not unready because the workers are gone); it is still reported."""
    problems = readiness_problems()
    checks = {
        "database": not any(p.startswith("database") for p in problems),
        "redis": not any(p.startswith("redis") for p in problems),
    }
    if current_app.config.get("READYZ_WORKER_SECONDS"):
        checks["workers"] = checks["redis"] and not any(p.startswith("workers") for p in problems)
        if request.args.get("workers") == "0":
            problems = [p for p in problems if not p.startswith("workers")]
    if problems:
        return jsonify(status="unavailable", reasons=problems, checks=checks), 503
    return jsonify(status="ready", checks=checks)


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)
