import json
import logging
import sys

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from portal import create_app
from portal.core import tracing
from tests.conftest import make_config


def test_tracing_is_off_without_an_endpoint(client):
    assert "trace_id" not in json.dumps(client.get("/healthz").headers.to_wsgi_list())
    assert tracing.inject_context() == {}


def test_requests_and_queries_become_spans_and_logs_carry_the_trace_id(own_database, capfd):
    exporter = InMemorySpanExporter()
    application = create_app(make_config())
    tracing.init_app(application, span_processor=SimpleSpanProcessor(exporter))
    logging.getLogger().handlers[0].setStream(sys.stderr)
    with application.app_context():
        response = application.test_client().get("/api/v1/", headers={"X-Request-ID": "t-1"})
        assert response.status_code == 200
        application.test_client().get("/readyz")  # excluded from request spans, but queries
    spans = exporter.get_finished_spans()
    request_span = next(s for s in spans if s.kind.name == "SERVER")
    assert request_span.attributes["http.route"] == "/api/v1/"
    assert any(s.attributes.get("db.system") == "postgresql" for s in spans)
    lines = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
    logged = next(x for x in lines if x.get("request_id") == "t-1" and x.get("event") == "request")
    assert logged["trace_id"] == format(request_span.context.trace_id, "032x")


def test_trace_context_travels_with_a_job():
    with tracing.tracer().start_as_current_span("enqueue") as span:
        carrier = tracing.inject_context()
    assert carrier["traceparent"].split("-")[1] == format(span.get_span_context().trace_id, "032x")
    token = tracing.extract_context(carrier)
    try:
        with tracing.tracer().start_as_current_span("run job") as child:
            assert child.get_span_context().trace_id == span.get_span_context().trace_id
    finally:
        tracing.detach(token)


def test_mail_link_tokens_never_reach_spans(own_database):
    exporter = InMemorySpanExporter()
    application = create_app(make_config())
    tracing.init_app(application, span_processor=SimpleSpanProcessor(exporter))
    with application.app_context():
        application.test_client().get("/verify/SECRET-TOKEN-abc123")
    spans = [s for s in exporter.get_finished_spans() if s.kind.name == "SERVER"]
    assert spans
    for span in spans:
        assert "SECRET-TOKEN-abc123" not in repr(dict(span.attributes)), span.attributes


def _traced_app():
    exporter = InMemorySpanExporter()
    application = create_app(make_config())
    tracing.init_app(application, span_processor=SimpleSpanProcessor(exporter))
    return application, exporter


def test_dispatch_carries_the_request_trace_to_the_queue(app):
    from rq.job import Job as RQJob

    from portal.core.queue import redis_connection
    from portal.execution.queue import dispatch, rq_job_id
    from tests.factories.execution import JobFactory

    _traced_app()
    job = JobFactory()
    with tracing.tracer().start_as_current_span("POST /api/v1/jobs") as parent:
        dispatch(job.id)
    queued = RQJob.fetch(rq_job_id(job.id), connection=redis_connection())
    trace_id = format(parent.get_span_context().trace_id, "032x")
    assert queued.kwargs["trace"]["traceparent"].split("-")[1] == trace_id


def test_the_worker_span_continues_the_enqueuing_trace(own_database, monkeypatch):
    from portal.execution.models import JobStatus
    from workers import jobs

    application, exporter = _traced_app()
    monkeypatch.setattr(
        "portal.execution.runner.run_job", lambda job_id, worker: JobStatus.COMPLETED
    )
    with tracing.tracer().start_as_current_span("POST /api/v1/jobs") as parent:
        carrier = tracing.inject_context()
    with application.app_context():
        assert jobs.run("job-1", trace=carrier) == "COMPLETED"
    span = next(s for s in exporter.get_finished_spans() if s.name == "job.run")
    assert span.context.trace_id == parent.get_span_context().trace_id
    assert span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes["job.id"] == "job-1"
