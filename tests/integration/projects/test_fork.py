"""Issue 22 item 12: "Open in IDE" forks an app version's package into a new project."""

from __future__ import annotations

import pytest

from portal.apps.models import AppVisibility
from portal.core.errors import NotFound
from portal.core.extensions import db
from portal.projects import services
from portal.projects.models import Project
from tests.factories.accounts import UserFactory
from tests.factories.apps import QuantumAppFactory, add_version, registry_app


def test_fork_copies_the_package_files_into_a_new_project():
    app = registry_app()
    version = app.latest_version
    user = UserFactory()
    project = services.fork_version(user, version.id)
    assert project.user_id == user.id and project.quantum_app_id is None
    assert app.name in project.name and version.version_number in project.name
    paths = {f.path: f.content for f in project.files}
    assert "manifest.json" not in paths
    programs = [p for p in paths if p.endswith(".qasm")]
    assert programs and version.entry_program in paths.values()
    assert services.default_entry(project) in programs


def test_fork_refuses_private_apps_and_drafts_of_others():
    developer = UserFactory(provider=True)
    private = QuantumAppFactory(developer=developer, visibility=AppVisibility.PRIVATE)
    released = add_version(private)
    draft = add_version(registry_app(developer=developer), number="2.0.0", publish=False)
    stranger = UserFactory()
    for version in (released, draft):
        with pytest.raises(NotFound):
            services.fork_version(stranger, version.id)
    with pytest.raises(NotFound):
        services.fork_version(stranger, "not-a-uuid")
    # the developer opens their own private and draft versions
    assert services.fork_version(developer, draft.id).user_id == developer.id
    assert services.fork_version(developer, released.id).user_id == developer.id


def test_registry_page_offers_open_in_ide(client, login_as):
    app = registry_app()
    anonymous = client.get(f"/registry/{app.id}").get_data(as_text=True)
    assert "Sign in to open in the IDE" in anonymous and "/login?next=" in anonymous
    user = UserFactory()
    login_as(user)
    page = client.get(f"/registry/{app.id}").get_data(as_text=True)
    assert 'data-testid="open-in-ide"' in page and 'action="/projects/fork"' in page
    resp = client.post("/projects/fork", data={"app_version_id": str(app.latest_version.id)})
    assert resp.status_code == 302 and "/projects/" in resp.headers["Location"]
    db.session.expire_all()
    projects = db.session.execute(db.select(Project).filter_by(user_id=user.id)).scalars().all()
    assert len(projects) == 1
    refused = client.post("/projects/fork", data={"app_version_id": "nope"})
    assert refused.status_code == 302
    assert "No such app version" in client.get("/projects/").get_data(as_text=True)


def test_api_fork(client, api_headers):
    app = registry_app()
    user = UserFactory()
    body = {"app_version_id": str(app.latest_version.id)}
    resp = client.post("/api/v1/projects/fork", json=body, headers=api_headers(user))
    assert resp.status_code == 201 and resp.json["name"].startswith(app.name)
    private = QuantumAppFactory(visibility=AppVisibility.PRIVATE)
    body = {"app_version_id": str(add_version(private).id)}
    assert (
        client.post("/api/v1/projects/fork", json=body, headers=api_headers(user)).status_code
        == 404
    )
