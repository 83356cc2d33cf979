"""portal.core.conditional: If-None-Match against a weak ETag, GET and HEAD only."""

from __future__ import annotations

from flask import Flask

from portal.core import conditional


def _app():
    app = Flask(__name__)
    return app


def test_matching_if_none_match_is_304_in_any_form():
    etag = conditional.weak_etag("job", 1, "2026-12-02")
    assert etag == conditional.weak_etag("job", 1, "2026-12-02")
    assert etag != conditional.weak_etag("job", 2, "2026-12-02")
    for header in (f'W/"{etag}"', f'"{etag}"', f'"other", W/"{etag}"', "*"):
        with _app().test_request_context("/x", headers={"If-None-Match": header}):
            response = conditional.not_modified(etag)
            assert response is not None and response.status_code == 304, header
            assert response.headers["ETag"] == f'W/"{etag}"'
            assert response.headers["Cache-Control"] == "private, no-cache"


def test_other_tags_methods_and_missing_header_are_not_304():
    etag = conditional.weak_etag("job")
    with _app().test_request_context("/x", headers={"If-None-Match": '"other"'}):
        assert conditional.not_modified(etag) is None
    with _app().test_request_context("/x"):
        assert conditional.not_modified(etag) is None
    with _app().test_request_context("/x", method="POST", headers={"If-None-Match": "*"}):
        assert conditional.not_modified(etag) is None


def test_tag_marks_only_successful_answers():
    from flask import Response

    with _app().test_request_context("/x"):
        ok = conditional.tag(Response("hi"), "abc", ("Cookie",))
        assert ok.headers["ETag"] == 'W/"abc"' and ok.headers["Vary"] == "Cookie"
        error = conditional.tag(Response("no", status=404), "abc")
        assert "ETag" not in error.headers
