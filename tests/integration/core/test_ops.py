import json
import logging

from portal import create_app
from tests.conftest import make_config


def test_request_id_is_returned_and_echoed(client):
    generated = client.get("/healthz")
    assert len(generated.headers["X-Request-ID"]) == 32
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["X-Request-ID"] == "abc-123"


def test_unsafe_request_ids_are_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "bad id; X-Evil: 1"})
    assert response.headers["X-Request-ID"] != "bad id; X-Evil: 1"
    assert "X-Evil" not in response.headers


def test_every_log_line_of_a_request_carries_its_id(client, capfd):
    logging.getLogger().handlers[0].setStream(__import__("sys").stderr)
    client.get("/api/v1/", headers={"X-Request-ID": "trace-me-42"})
    lines = [
        json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")
    ]
    request_lines = [line for line in lines if line.get("event") == "request"]
    assert request_lines and all(line["request_id"] == "trace-me-42" for line in request_lines)
    assert request_lines[-1]["path"] == "/api/v1/" and request_lines[-1]["status"] == 200


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": True, "redis": True}


def test_readyz_says_why_when_redis_is_down(own_database):
    application = create_app(make_config(REDIS_URL="redis://127.0.0.1:1/0"))
    with application.app_context():
        response = application.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["redis"] is False
    assert any("redis unreachable" in reason for reason in body["reasons"])


def test_readyz_says_why_when_the_database_is_down(own_database):
    application = create_app(
        make_config(
            SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/none",
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 1}},
        )
    )
    with application.app_context():
        response = application.test_client().get("/readyz")
    assert response.status_code == 503
    assert any("database unreachable" in r for r in response.get_json()["reasons"])


def test_metrics_count_requests_and_latency_per_endpoint(client):
    client.get("/healthz")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'qh_http_requests_total{endpoint="ops.healthz",method="GET",status="200"}' in text
    assert 'qh_http_request_duration_seconds_bucket{endpoint="ops.healthz"' in text
