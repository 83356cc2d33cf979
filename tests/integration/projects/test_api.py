"""The projects JSON API: CRUD, files, ownership, limits, templates, paging, scopes."""

import pytest

from portal.projects import services
from portal.projects.models import Project
from portal.projects.starters import STARTERS
from tests.factories.projects import ProjectFactory

BASE = "/api/v1/projects"


def test_create_from_each_template(client, api_headers, owner):
    for key, starter in STARTERS.items():
        response = client.post(
            BASE + "/", json={"name": f"From {key}", "template": key}, headers=api_headers(owner)
        )
        assert response.status_code == 201, response.json
        body = response.json
        assert sorted(f["path"] for f in body["files"]) == sorted(starter.files)
        assert body["size"] == sum(len(c.encode()) for c in starter.files.values())


def test_create_defaults_to_bell_and_validates(client, api_headers, owner):
    response = client.post(BASE + "/", json={"name": "Mine"}, headers=api_headers(owner))
    assert response.status_code == 201
    main = client.get(
        f"{BASE}/{response.json['id']}/files/main.qasm", headers=api_headers(owner)
    ).json
    assert "cx q[0], q[1]" in main["content"]

    bad = client.post(
        BASE + "/", json={"name": "x", "template": "nope"}, headers=api_headers(owner)
    )
    assert bad.status_code == 422
    assert "template" in bad.json["error"]["details"]
    blank = client.post(BASE + "/", json={"name": "  "}, headers=api_headers(owner))
    assert blank.status_code == 422
    assert "name" in blank.json["error"]["message"].lower()
    repo = client.post(
        BASE + "/", json={"name": "r", "repo": "javascript:alert(1)"}, headers=api_headers(owner)
    )
    assert repo.status_code == 422
    assert "http" in repo.json["error"]["message"]


def test_list_is_paged_and_only_mine(client, api_headers, owner, stranger):
    for _ in range(3):
        ProjectFactory(user=owner)
    ProjectFactory(user=stranger)
    page = client.get(BASE + "/?per_page=2&page=2", headers=api_headers(owner)).json
    assert page["total"] == 3 and page["page"] == 2 and page["per_page"] == 2
    assert len(page["items"]) == 1
    assert client.get(BASE + "/?per_page=500", headers=api_headers(owner)).status_code == 422


def test_get_update_delete(client, api_headers, owner, project):
    url = f"{BASE}/{project.id}"
    assert client.get(url, headers=api_headers(owner)).json["name"] == "Bell lab"
    updated = client.put(
        url,
        json={"name": "Renamed", "repo": "https://github.com/me/bell", "description": "d"},
        headers=api_headers(owner),
    )
    assert updated.status_code == 200
    assert updated.json["repo"] == "https://github.com/me/bell"
    assert client.delete(url, headers=api_headers(owner)).status_code == 204
    assert client.get(url, headers=api_headers(owner)).status_code == 404


def test_other_users_get_404_everywhere(client, api_headers, stranger, project):
    headers = api_headers(stranger)
    url = f"{BASE}/{project.id}"
    assert client.get(url, headers=headers).status_code == 404
    assert client.put(url, json={"name": "x"}, headers=headers).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404
    assert client.get(url + "/files/main.qasm", headers=headers).status_code == 404
    assert (
        client.put(url + "/files/main.qasm", json={"content": ""}, headers=headers).status_code
        == 404
    )
    assert (
        client.post(
            url + "/release", json={"name": "x", "version": "1.0.0"}, headers=headers
        ).status_code
        == 404
    )
    assert client.get(BASE + "/", headers=headers).json["total"] == 0
    assert client.get(f"{BASE}/not-a-uuid", headers=headers).status_code == 404


def test_requires_authentication(client, project):
    assert client.get(BASE + "/").status_code == 401


def test_read_only_api_key_cannot_write(client, owner, project):
    from portal.accounts.services import create_api_key

    _key, raw = create_api_key(owner, name="ro", scopes=["read"])
    headers = {"X-API-Key": raw}
    assert client.get(f"{BASE}/{project.id}", headers=headers).status_code == 200
    response = client.put(f"{BASE}/{project.id}", json={"name": "x"}, headers=headers)
    assert response.status_code == 403


def test_file_crud(client, api_headers, owner, project):
    headers = api_headers(owner)
    files = f"{BASE}/{project.id}/files"
    created = client.post(
        files, json={"path": "lib/ghz.qasm", "content": "// hi\n"}, headers=headers
    )
    assert created.status_code == 201 and created.json["size"] == 6
    assert client.post(files, json={"path": "lib/ghz.qasm"}, headers=headers).status_code == 409
    written = client.put(files + "/lib/ghz.qasm", json={"content": "// é\n"}, headers=headers)
    assert written.json["size"] == len("// é\n".encode())
    # PUT creates a missing file.
    assert (
        client.put(files + "/notes.txt", json={"content": "x"}, headers=headers).status_code == 200
    )
    renamed = client.patch(files + "/lib/ghz.qasm", json={"path": "ghz.qasm"}, headers=headers)
    assert renamed.json["path"] == "ghz.qasm"
    assert (
        client.patch(files + "/ghz.qasm", json={"path": "main.qasm"}, headers=headers).status_code
        == 409
    )
    listing = client.get(files, headers=headers).json
    assert [f["path"] for f in listing] == ["ghz.qasm", "main.qasm", "notes.txt", "README.md"]
    assert client.delete(files + "/ghz.qasm", headers=headers).status_code == 204
    assert client.get(files + "/ghz.qasm", headers=headers).status_code == 404


def test_file_names_are_validated(client, api_headers, owner, project):
    headers = api_headers(owner)
    files = f"{BASE}/{project.id}/files"
    for bad in ("../../etc/passwd.txt", "evil.sh", ".env.txt", "a\\b.qasm"):
        response = client.post(files, json={"path": bad}, headers=headers)
        assert response.status_code == 422, bad
        assert "Invalid file name" in response.json["error"]["message"]
    traversal = client.put(files + "/a/../../x.qasm", json={"content": ""}, headers=headers)
    assert traversal.status_code in (404, 422)


def test_size_limits_have_clear_messages(client, api_headers, owner, project, monkeypatch):
    headers = api_headers(owner)
    files = f"{BASE}/{project.id}/files"
    too_big = "x" * (services.MAX_FILE_BYTES + 1)
    response = client.put(files + "/big.txt", json={"content": too_big}, headers=headers)
    assert response.status_code == 413
    assert "at most 65,536 bytes" in response.json["error"]["message"]

    monkeypatch.setattr(services, "MAX_PROJECT_BYTES", services.project_size(project) + 10)
    response = client.put(files + "/more.txt", json={"content": "y" * 11}, headers=headers)
    assert response.status_code == 413
    assert "a project may hold at most" in response.json["error"]["message"]
    assert (
        client.put(files + "/more.txt", json={"content": "y" * 10}, headers=headers).status_code
        == 200
    )

    monkeypatch.setattr(services, "MAX_FILES", len(project.files))
    response = client.post(files, json={"path": "one-more.txt"}, headers=headers)
    assert response.status_code == 422
    assert "at most" in response.json["error"]["message"]


def test_project_count_limit(client, api_headers, owner, monkeypatch):
    ProjectFactory(user=owner)
    monkeypatch.setattr(services, "MAX_PROJECTS", 1)
    response = client.post(BASE + "/", json={"name": "two"}, headers=api_headers(owner))
    assert response.status_code == 422
    assert "delete one first" in response.json["error"]["message"]


def test_analyse_returns_diagnostics_and_figures(client, api_headers, owner, project):
    url = f"{BASE}/{project.id}/analyse"
    ok = client.post(
        url, json={"source": STARTERS["ghz"].files["main.qasm"]}, headers=api_headers(owner)
    )
    assert ok.json["ok"] and ok.json["resources"]["qubits"] == 5
    broken = client.post(
        url, json={"source": "OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n"}, headers=api_headers(owner)
    )
    assert not broken.json["ok"]
    assert broken.json["diagnostics"][0]["line"] == 3


def test_deleting_the_project_keeps_files_out_of_the_database(api_headers, client, owner, project):
    from portal.core.extensions import db
    from portal.projects.models import ProjectFile

    project_id = project.id  # the object is gone once the request has deleted its row
    client.delete(f"{BASE}/{project_id}", headers=api_headers(owner))
    assert db.session.get(Project, project_id) is None
    assert db.session.query(ProjectFile).filter_by(project_id=project_id).count() == 0


@pytest.mark.parametrize("method", ["post", "put"])
def test_bodies_must_be_json(client, api_headers, owner, project, method):
    response = getattr(client, method)(
        f"{BASE}/{project.id}/files" + ("" if method == "post" else "/main.qasm"),
        data="path=x",
        content_type="application/x-www-form-urlencoded",
        headers=api_headers(owner),
    )
    assert response.status_code == 415
