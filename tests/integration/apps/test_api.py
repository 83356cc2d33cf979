"""The /api/v1/quantum-apps and /api/v1/registry endpoints."""

import io
import zipfile

import pytest

from portal.apps.models import AppVisibility
from portal.apps.packages import build_package
from tests.factories.accounts import UserFactory
from tests.factories.apps import BELL, ROTATION, QuantumAppFactory, add_version, registry_app

BASE = "/api/v1/quantum-apps"


@pytest.fixture
def provider():
    return UserFactory(provider=True)


def test_provider_creates_versions_and_publishes_to_the_registry(client, api_headers, provider):
    headers = api_headers(provider)
    created = client.post(BASE + "/", json={
        "name": "Rotation", "description": "Rotate", "visibility": "PUBLIC",
        "readme_content": "# Rotation", "tags": ["VQE", "ansatz"],
    }, headers=headers)  # fmt: skip
    assert created.status_code == 201, created.get_json()
    app = created.get_json()
    assert app["tags"] == ["ansatz", "vqe"] and app["developer"] == provider.username
    app_id = app["id"]

    refused = client.post(f"{BASE}/{app_id}/publish-registry", headers=headers)
    assert refused.status_code == 422 and "versions" in refused.get_json()["error"]["details"]

    version = client.post(f"{BASE}/{app_id}/versions", json={
        "version_number": "1.0.0", "entry_program": ROTATION, "release_notes": "First.",
        "publish": True,
    }, headers=headers)  # fmt: skip
    assert version.status_code == 201, version.get_json()
    body = version.get_json()
    assert body["is_latest"] and body["status"] == "PUBLISHED"
    assert set(body["input_schema"]["properties"]) == {"theta", "layers"}

    package = build_package(name="Rotation", version="1.1.0", sdk="OPENQASM3",
                            entry_program_path="programs/main.qasm",
                            files={"programs/main.qasm": BELL}, readme="# R")  # fmt: skip
    upload = client.post(
        f"{BASE}/{app_id}/versions",
        data={"package": (io.BytesIO(package), "rotation.zip"), "release_notes": "Zip."},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_json()
    assert upload.get_json()["version_number"] == "1.1.0"
    assert upload.get_json()["status"] == "DRAFT"

    listed = client.get(f"{BASE}/{app_id}/versions", headers=headers).get_json()
    assert [v["version_number"] for v in listed["items"]] == ["1.1.0", "1.0.0"]

    published = client.post(f"{BASE}/{app_id}/publish-registry", headers=headers)
    assert published.status_code == 200 and published.get_json()["is_in_registry"] is True
    assert client.get(f"/api/v1/registry/{app_id}").status_code == 200


def test_bad_uploads_get_422_with_reasons(client, api_headers, provider):
    app = QuantumAppFactory(developer=provider)
    headers = api_headers(provider)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/cron.d/evil.qasm", BELL)
    response = client.post(
        f"{BASE}/{app.id}/versions",
        data={"package": (io.BytesIO(buffer.getvalue()), "evil.zip")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "path traversal" in response.get_json()["error"]["message"]
    missing = client.post(f"{BASE}/{app.id}/versions", data={}, headers=headers,
                          content_type="multipart/form-data")  # fmt: skip
    assert missing.status_code == 422
    broken = client.post(
        f"{BASE}/{app.id}/versions",
        headers=headers,
        json={"version_number": "1.0.0", "entry_program": "OPENQASM 3.0;\nx;"},
    )
    assert broken.status_code == 422
    assert broken.get_json()["error"]["details"]["line"] == 2


def test_update_yank_download_and_delete_versions(client, api_headers, provider):
    app = QuantumAppFactory(developer=provider)
    add_version(app, "1.0.0")
    newer = add_version(app, "1.1.0")
    headers = api_headers(provider)
    url = f"{BASE}/{app.id}/versions/{newer.id}"
    no_reason = client.put(url, json={"status": "YANKED"}, headers=headers)
    assert no_reason.status_code == 422
    yanked = client.put(url, json={"status": "YANKED", "yank_reason": "Bad results"},
                        headers=headers)  # fmt: skip
    assert yanked.status_code == 200 and yanked.get_json()["yank_reason"] == "Bad results"
    blocked = client.get(url + "/download", headers=headers)
    assert blocked.status_code == 409 and "Bad results" in blocked.get_json()["error"]["message"]
    forced = client.get(url + "/download?allow_yanked=true", headers=headers)
    assert forced.status_code == 200 and forced.mimetype == "application/zip"
    assert forced.headers["X-Package-SHA256"] == newer.package_sha256
    assert client.delete(url, headers=headers).status_code == 409
    draft = add_version(app, "2.0.0", publish=False)
    assert client.delete(f"{BASE}/{app.id}/versions/{draft.id}", headers=headers).status_code == 204
    metrics = client.get(f"{BASE}/{app.id}/metrics", headers=headers).get_json()
    assert metrics["downloads"] == 1


def test_ownership_private_apps_are_404_public_ones_403(client, api_headers, provider):
    stranger = UserFactory(provider=True)
    public = QuantumAppFactory(developer=provider)
    private = QuantumAppFactory(developer=provider, visibility=AppVisibility.PRIVATE)
    headers = api_headers(stranger)
    assert client.get(f"{BASE}/{private.id}", headers=headers).status_code == 404
    assert (
        client.put(f"{BASE}/{private.id}", json={"name": "x"}, headers=headers).status_code == 404
    )
    assert client.get(f"{BASE}/{public.id}", headers=headers).status_code == 200
    assert client.put(f"{BASE}/{public.id}", json={"name": "x"}, headers=headers).status_code == 403
    assert client.delete(f"{BASE}/{public.id}", headers=headers).status_code == 403
    draft = add_version(public, publish=False)
    assert client.get(f"{BASE}/{public.id}/versions/{draft.id}", headers=headers).status_code == 404
    admin = api_headers(UserFactory(admin=True))
    changed = client.put(f"{BASE}/{public.id}", json={"description": "by admin"}, headers=admin)
    assert changed.status_code == 200 and changed.get_json()["description"] == "by admin"
    assert client.delete(f"{BASE}/{private.id}", headers=admin).status_code == 204
    assert client.get(f"{BASE}/{public.id}").status_code == 401
    consumer = api_headers(UserFactory())
    assert client.post(BASE + "/", json={"name": "x"}, headers=consumer).status_code == 403


def test_listing_filters_sorts_and_pages(client, api_headers, provider):
    mine = QuantumAppFactory(developer=provider, name="Alpha", visibility=AppVisibility.PRIVATE)
    QuantumAppFactory(name="Beta")
    hidden = QuantumAppFactory(name="Gamma", visibility=AppVisibility.PRIVATE)
    headers = api_headers(provider)
    names = [a["name"] for a in client.get(BASE + "/?sort=name", headers=headers)
             .get_json()["items"]]  # fmt: skip
    assert "Alpha" in names and "Beta" in names and hidden.name not in names
    only_mine = client.get(BASE + "/?mine=true", headers=headers).get_json()
    assert [a["id"] for a in only_mine["items"]] == [str(mine.id)]
    paged = client.get(BASE + "/?per_page=1&page=2&sort=name", headers=headers).get_json()
    assert paged["per_page"] == 1 and paged["page"] == 2 and paged["total"] >= 2
    bad = client.get(BASE + "/?per_page=1000", headers=headers)
    assert bad.status_code == 422
    assert client.get(BASE + "/?type=NOPE", headers=headers).status_code == 422
    by_dev = client.get(f"{BASE}/?developer={provider.username}", headers=headers).get_json()
    assert {a["name"] for a in by_dev["items"]} == {"Alpha"}


def test_registry_api_is_public_and_counts_downloads(client):
    app = registry_app(name="Public Bell")
    QuantumAppFactory(name="Not listed")
    listing = client.get("/api/v1/registry/?q=bell").get_json()
    assert [a["name"] for a in listing["items"]] == ["Public Bell"]
    detail = client.get(f"/api/v1/registry/{app.id}").get_json()
    assert [v["version_number"] for v in detail["versions"]] == ["1.0.0"]
    assert detail["metrics"]["views"] == 1
    response = client.post(f"/api/v1/registry/download/{app.id}")
    assert response.status_code == 200 and response.data.startswith(b"PK")
    assert "attachment" in response.headers["Content-Disposition"]
    assert client.post(f"/api/v1/registry/download/{app.id}?version=9.9.9").status_code == 404
    assert client.get(f"/api/v1/registry/{app.id}").get_json()["metrics"]["downloads"] == 1
    unlisted = QuantumAppFactory()
    assert client.get(f"/api/v1/registry/{unlisted.id}").status_code == 404


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ["/api/v1/quantum-apps/", "/api/v1/quantum-apps/{app_id}/versions",
                 "/api/v1/quantum-apps/{app_id}/versions/{version_id}/download",
                 "/api/v1/registry/", "/api/v1/registry/download/{app_id}"]:  # fmt: skip
        assert path in spec["paths"], path
