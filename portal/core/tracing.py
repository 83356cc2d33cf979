"""OpenTelemetry tracing: the official Flask, SQLAlchemy and Redis instrumentations,
exported over OTLP/HTTP when ``QH_OTEL_ENDPOINT`` is set, off otherwise.

The trace id of the current span is added to every log line (see ``add_trace_ids``), so a
log line leads to its trace. Workers continue the trace of the request that enqueued a job
through ``inject_context`` / ``extract_context``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from portal.core.extensions import db

_configured = False


def add_trace_ids(logger, method_name, event_dict):
    """structlog processor: the active span's trace and span ids, when there is one."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict["trace_id"] = format(span_context.trace_id, "032x")
        event_dict["span_id"] = format(span_context.span_id, "016x")
    return event_dict


def build_span_processor(endpoint: str):
    # Deferred: OpenTelemetry's exporter and instrumentation load only with tracing on.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"))


def init_app(app: Flask, span_processor=None) -> None:
    """Instrument ``app`` when tracing is configured. The tracer provider is global to the
    process, so it is installed once; each app still gets its own Flask instrumentation."""
    global _configured
    endpoint = app.config.get("OTEL_ENDPOINT")
    if not endpoint and span_processor is None:
        return
    # Deferred: OpenTelemetry's exporter and instrumentation load only with tracing on.
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    if not _configured:
        provider = TracerProvider(
            resource=Resource.create({"service.name": app.config["OTEL_SERVICE_NAME"]})
        )
        provider.add_span_processor(span_processor or build_span_processor(endpoint))
        trace.set_tracer_provider(provider)
        RedisInstrumentor().instrument()
        _configured = True
    elif span_processor is not None:
        trace.get_tracer_provider().add_span_processor(span_processor)
    FlaskInstrumentor().instrument_app(app, excluded_urls="healthz,readyz,metrics,static")
    with app.app_context():
        SQLAlchemyInstrumentor().instrument(engine=db.engine)


def redact_current_span(path: str, query: str = "") -> None:
    """Overwrite the request span's URL attributes with a path whose secrets (mail-link
    tokens) are already redacted, so traces never carry them."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    target = path + (f"?{query}" if query else "")
    span.set_attribute("http.target", target)
    span.set_attribute("url.path", path)
    span.set_attribute("http.url", "[redacted]" if query or path != target else path)


def tracer():
    return trace.get_tracer("quantum-hub")


def inject_context() -> dict[str, str]:
    """The current trace context as a plain dict, to store with an enqueued job."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_context(carrier: dict[str, Any] | None):
    """Attach the enqueuing request's trace context; returns a token for ``detach``."""
    return otel_context.attach(propagate.extract(carrier or {}))


def detach(token) -> None:
    otel_context.detach(token)
