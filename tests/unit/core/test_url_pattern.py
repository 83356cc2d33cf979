"""``url_pattern``: one ``url_for`` for a list's many row links, always exactly its output."""

import uuid

import pytest
from flask import Flask, url_for

from portal.core.web import url_pattern

VALUES = [
    uuid.UUID("3cd08e7e-76bc-4a90-ba24-7481b201afc1"),
    "bench",
    "v1.2_beta~3",
    "two words",
    "a&b=c",
    "ünïcode",
    "50%",
    "slash/in",
    "",
    "?#",
    7,
]


@pytest.fixture
def routes():
    app = Flask(__name__)
    for rule, endpoint in [
        ("/jobs", "index"),
        ("/jobs/<job_id>", "detail"),
        ("/u/<uuid:user_id>", "user"),
        ("/n/<int:number>", "number"),
        ("/f/<path:path>", "file"),
    ]:
        app.add_url_rule(rule, endpoint, lambda **kw: "")
    return app


@pytest.mark.parametrize(
    ("endpoint", "key", "values"),
    [
        ("detail", "job_id", {}),
        ("index", "tag", {}),
        ("index", "tag", {"page": 2, "status": "QUEUED"}),
        ("file", "path", {"download": 1}),
    ],
)
def test_every_value_gives_what_url_for_gives(routes, endpoint, key, values):
    with routes.test_request_context("/", base_url="http://example.test/portal"):
        pattern = url_pattern(endpoint, key, **values)
        assert pattern.parts is not None  # built from one url_for, not one per value
        for value in VALUES:
            if endpoint == "detail" and value == "":
                continue  # url_for cannot build an empty path segment either
            assert pattern(value) == url_for(endpoint, **{key: value}, **values), value


def test_a_converter_that_refuses_the_placeholder_falls_back_to_url_for(routes):
    with routes.test_request_context("/"):
        number = url_pattern("number", "number")
        assert number.parts is None and number(42) == url_for("number", number=42) == "/n/42"
        some = uuid.uuid4()
        assert url_pattern("user", "user_id")(some) == url_for("user", user_id=some)
