from portal import create_app
from tests.conftest import make_config


def test_home_explains_the_portal(client):
    html = client.get("/").get_data(as_text=True)
    assert "Quantum Hub" in html
    assert "Price before you run" in html
    assert "/static/vendor/htmx.min.js" in html
    assert 'hx-headers=\'{"X-CSRFToken"' in html


def test_unknown_page_gets_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "404" in html and "Back to the home page" in html


def test_server_error_page_hides_details():
    application = create_app(make_config())

    @application.get("/explode")
    def explode():
        raise RuntimeError("do not show this")

    response = application.test_client().get("/explode")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "do not show this" not in html and "Something went wrong" in html


def test_forms_need_a_csrf_token():
    application = create_app(make_config(WTF_CSRF_ENABLED=True))

    @application.post("/form-probe")
    def form_probe():
        return "ok"

    client = application.test_client()
    refused = client.post("/form-probe", data={"x": "1"})
    assert refused.status_code == 400
    html = client.get("/").get_data(as_text=True)
    token = html.split('name="csrf-token" content="')[1].split('"')[0]
    accepted = client.post("/form-probe", data={"x": "1"}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200


def test_the_shared_pager_keeps_filters_and_words_its_links(app):
    with app.test_request_context("/"):
        pager = app.jinja_env.get_template("_pager.html").module.pager
        middle = str(pager("jobs.index", 2, 3, 45, "jobs", newest_first=True, status="FAILED"))
        assert "Page 2 of 3 (45 jobs)" in middle
        assert 'href="/jobs?page=1&amp;status=FAILED" rel="prev">← Newer' in middle
        assert 'href="/jobs?page=3&amp;status=FAILED" rel="next">Older →' in middle
        first = str(pager("registry.browse", 1, 2, q="grover"))
        assert 'rel="prev"' not in first and "Next →" in first and "q=grover" in first
        assert str(pager("registry.browse", 1, 1)).strip() == ""
