"""Every error under /api/v1 has one envelope and the right status, never a 500 page."""

import pytest
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from portal import create_app
from tests.conftest import make_config


class EchoSchema(Schema):
    name = fields.String(required=True)
    shots = fields.Integer(required=True)


def _scaffold_app():
    """An app with one JSON route and one failing route, registered the way domains do."""
    application = create_app(make_config())
    blp = Blueprint("scaffold", __name__, url_prefix="/scaffold")

    @blp.route("/echo")
    class Echo(MethodView):
        @blp.arguments(EchoSchema)
        @blp.response(201, EchoSchema)
        def post(self, data):
            return data

    @blp.route("/boom")
    class Boom(MethodView):
        def get(self):
            raise RuntimeError("secret internal detail")

    @blp.route("/limited")
    class Limited(MethodView):
        def get(self):
            from portal.accounts.auth import check_rate_limit

            check_rate_limit("2/minute", "scaffold-limited", what="this route")
            return {"ok": True}

    from portal.core.extensions import api

    api.register_blueprint(blp, url_prefix="/api/v1/scaffold")
    return application


@pytest.fixture(scope="module")
def api_client():
    return _scaffold_app().test_client()


def _error(response):
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_valid_request_passes(api_client):
    response = api_client.post("/api/v1/scaffold/echo", json={"name": "bell", "shots": 10})
    assert response.status_code == 201
    assert response.get_json() == {"name": "bell", "shots": 10}


def test_malformed_json_is_400_with_line_and_column(api_client):
    response = api_client.post(
        "/api/v1/scaffold/echo",
        data='{\n  "name": "x",\n  shots: 1}',
        content_type="application/json",
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "malformed_json"
    assert error["details"] == {"line": 3, "column": 3}
    assert "line 3, column 3" in error["message"]


def test_wrong_content_type_is_415(api_client):
    response = api_client.post(
        "/api/v1/scaffold/echo", data="name=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"


def test_validation_errors_are_422_with_field_details(api_client):
    response = api_client.post("/api/v1/scaffold/echo", json={"name": "x", "shots": "many"})
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_error"
    assert "shots" in error["details"]


def test_unknown_route_is_404(api_client):
    response = api_client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_wrong_method_is_405_with_allow_header(api_client):
    response = api_client.delete("/api/v1/scaffold/echo")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert _error(response)["code"] == "method_not_allowed"


def test_unexpected_failure_is_500_without_traceback(api_client):
    response = api_client.get("/api/v1/scaffold/boom")
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "internal_error"
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_rate_limit_is_429_with_retry_after(api_client):
    statuses = [api_client.get("/api/v1/scaffold/limited").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    response = api_client.get("/api/v1/scaffold/limited")
    assert int(response.headers["Retry-After"]) > 0
    error = _error(response)
    assert error["code"] == "rate_limited"
    assert "2/minute" in error["message"] and "this route" in error["message"]


def test_openapi_document_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "Quantum Hub API"
    assert "/api/v1/" in spec["paths"]
    assert {"bearerAuth", "apiKey"} <= set(spec["components"]["securitySchemes"])


def test_docs_page_uses_vendored_assets_only(client):
    html = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
