import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_home_navigation_and_api_docs(live_server, page, console_errors):
    page.goto(live_server.url + "/")
    expect(page).to_have_title("Home · Quantum Hub")
    expect(page.get_by_role("heading", level=1)).to_contain_text("quantum software")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API").click()
    expect(page).to_have_url(live_server.url + "/api/v1/docs")
    # Swagger UI fetched and rendered the spec from the vendored bundle.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Quantum Hub API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert console_errors == []
