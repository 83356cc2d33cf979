"""Provider pages (apps.*) and Registry pages (registry.*): rendering, HTMX fragments,
forms, ownership and the sanitised README."""

import io

from portal.apps.models import AppVisibility, QuantumApp, VersionStatus
from portal.apps.packages import build_package
from portal.core.extensions import db
from tests.factories.accounts import UserFactory
from tests.factories.apps import BELL, ROTATION, QuantumAppFactory, add_version, registry_app


def test_registry_browse_page_and_htmx_fragment(client):
    registry_app(name="Bell Pair")
    registry_app(name="Ghz State", featured_in_registry=True)
    html = client.get("/registry/").get_data(as_text=True)
    assert "<title>Registry · Quantum Hub</title>" in html
    assert 'hx-trigger="input changed delay:300ms' in html
    assert "Featured" in html and "Bell Pair" in html
    fragment = client.get(
        "/registry/?q=bell", headers={"HX-Request": "true", "HX-Target": "registry-results"}
    ).get_data(as_text=True)
    assert "<html" not in fragment and "Bell Pair" in fragment and "Ghz State" not in fragment
    empty = client.get("/registry/?q=nothing-matches-this").get_data(as_text=True)
    assert "No apps match" in empty
    bad = client.get("/registry/?min_qubits=lots").get_data(as_text=True)
    assert "whole number" in bad


def test_registry_app_page_sanitises_readme_and_shows_example(client):
    app = registry_app(
        name="Rotation",
        program=ROTATION,
        readme_content="# Hello\n\n<script>alert('pwned')</script><img src=x onerror=alert(1)>",
    )
    yanked = add_version(app, "1.1.0")
    from portal.apps import services

    services.change_status(yanked, VersionStatus.YANKED, reason="Gives wrong counts.")
    html = client.get(f"/registry/{app.id}").get_data(as_text=True)
    assert "<h2>Hello</h2>" in html  # README headings sit under the page title
    assert "<script>alert" not in html and "onerror" not in html
    assert "/api/v1/jobs" in html and "app_version_id" in html and "theta" in html
    assert "Gives wrong counts." in html
    version_page = client.get(f"/registry/{app.id}/versions/{yanked.id}").get_data(as_text=True)
    assert "This version was yanked" in version_page and "Download v1.1.0" not in version_page
    assert client.get(f"/registry/{QuantumAppFactory().id}").status_code == 404


def test_download_from_page_counts_and_shows_count(client):
    app = registry_app(name="Bell")
    response = client.post(f"/registry/{app.id}/download")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    stats = client.get(f"/registry/{app.id}/stats").get_data(as_text=True)
    assert 'data-testid="download-count">1<' in stats


def test_likes_toggle_with_htmx(client, login_as):
    app = registry_app()
    assert client.post(f"/registry/{app.id}/like").status_code == 302  # sign in first
    login_as(UserFactory())
    liked = client.post(f"/registry/{app.id}/like", headers={"HX-Request": "true"})
    assert "♥ Liked" in liked.get_data(as_text=True)
    assert 'data-testid="like-count">1<' in liked.get_data(as_text=True)
    unliked = client.post(f"/registry/{app.id}/like", headers={"HX-Request": "true"})
    assert "♡ Like" in unliked.get_data(as_text=True)


def test_registry_doc_pages(client):
    from portal.apps import services

    app = registry_app()
    doc = services.add_doc(app, title="Usage", content="Run **it**.")
    page = client.get(f"/registry/{app.id}/docs/{doc.id}").get_data(as_text=True)
    assert "<strong>it</strong>" in page
    assert "Usage" in client.get(f"/registry/{app.id}").get_data(as_text=True)


def test_provider_flow_through_the_pages(client, login_as):
    provider = UserFactory(provider=True)
    login_as(provider)
    db.session.commit()  # keep the sign-in when a refused form rolls its own work back
    assert "You have no apps yet" in client.get("/apps/").get_data(as_text=True)
    assert client.get("/apps/new").status_code == 200
    refused = client.post("/apps/new", data={"name": ""})
    assert refused.status_code == 422
    created = client.post("/apps/new", data={
        "name": "Teleport", "type": "CIRCUIT", "visibility": "PUBLIC", "license_type": "MIT",
        "readme_content": "# Teleport", "tags": "teleportation, education",
    })  # fmt: skip
    assert created.status_code == 302
    app = db.session.execute(db.select(QuantumApp).filter_by(name="Teleport")).scalar_one()
    detail = client.get(f"/apps/{app.id}").get_data(as_text=True)
    assert "Publish a version first" in detail

    bad = client.post(f"/apps/{app.id}/versions/new", data={
        "version_number": "1.0.0", "entry_program": "OPENQASM 3.0;\nqubit q;\nh q\n",
    })  # fmt: skip
    assert bad.status_code == 422 and "Program error" in bad.get_data(as_text=True)
    made = client.post(f"/apps/{app.id}/versions/new", data={
        "version_number": "1.0.0", "entry_program": BELL, "release_notes": "First", "publish": "1",
    })  # fmt: skip
    assert made.status_code == 302
    package = build_package(name="Teleport", version="1.1.0", sdk="OPENQASM3",
                            entry_program_path="main.qasm", files={"main.qasm": BELL})  # fmt: skip
    uploaded = client.post(
        f"/apps/{app.id}/versions/new",
        data={"package": (io.BytesIO(package), "t.zip"), "publish": "1"},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302
    db.session.refresh(app)
    assert app.latest_version.version_number == "1.1.0"

    version = app.latest_version
    assert "Validation" in client.get(f"/apps/{app.id}/versions/{version.id}").get_data(True)
    client.post(f"/apps/{app.id}/versions/{version.id}",
                data={"status": "YANKED", "yank_reason": "Oops"})  # fmt: skip
    db.session.refresh(app)
    assert app.latest_version.version_number == "1.0.0"

    assert client.post(f"/apps/{app.id}/registry").status_code == 302
    db.session.refresh(app)
    assert app.is_in_registry
    settings = client.post(f"/apps/{app.id}/settings", data={
        "name": "Teleport", "type": "CIRCUIT", "visibility": "PUBLIC", "license_type": "MIT",
        "readme_content": "# Teleport v2", "tags": "education",
    })  # fmt: skip
    assert settings.status_code == 302
    assert [t.name for t in app.tags] == ["education"]
    doc = client.post(f"/apps/{app.id}/docs/new", data={"title": "Intro", "content": "Hi"})
    assert doc.status_code == 302
    assert "Intro" in client.get(f"/apps/{app.id}").get_data(as_text=True)
    assert client.get(f"/apps/{app.id}/delete").status_code == 200
    app_id = app.id  # the object is gone once the request has deleted its row
    deleted = client.post(f"/apps/{app_id}/delete", headers={"HX-Request": "true"})
    assert deleted.headers["HX-Redirect"].endswith("/apps/")
    assert db.session.get(QuantumApp, app_id) is None


def test_provider_pages_refuse_other_users(client, login_as):
    owner = UserFactory(provider=True)
    public = QuantumAppFactory(developer=owner)
    private = QuantumAppFactory(developer=owner, visibility=AppVisibility.PRIVATE)
    login_as(UserFactory(provider=True))
    assert client.get(f"/apps/{public.id}/settings").status_code == 403
    assert client.post(f"/apps/{public.id}/delete").status_code == 403
    assert client.get(f"/apps/{private.id}").status_code == 404
    consumer_client = client
    login_as(UserFactory())
    assert consumer_client.get("/apps/").status_code == 403


def test_pages_need_sign_in(client):
    assert client.get("/apps/").status_code == 302


def test_version_docs_and_registry_actions_from_the_pages(client, login_as):
    from portal.apps import services

    owner = UserFactory(provider=True)
    app = registry_app(developer=owner, name="Actions")
    draft = add_version(app, "2.0.0", publish=False)
    login_as(owner)
    db.session.commit()
    base = f"/apps/{app.id}"
    # Yanking without a reason is refused with a message, not a 500.
    released = app.latest_version
    refused = client.post(f"{base}/versions/{released.id}", data={"status": "YANKED"})
    assert refused.status_code == 302
    assert "Say why" in client.get(f"{base}/versions/{released.id}").get_data(as_text=True)
    # Released versions cannot be deleted; drafts can.
    client.post(f"{base}/versions/{released.id}/delete")
    assert "yank it instead" in client.get(base).get_data(as_text=True)
    assert client.post(f"{base}/versions/{draft.id}/delete").status_code == 302
    # Documentation pages: validation, edit, reorder, delete.
    bad = client.post(f"{base}/docs/new", data={"title": "", "content": "x"})
    assert bad.status_code == 422
    one = services.add_doc(app, title="One", content="1")
    two = services.add_doc(app, title="Two", content="2")
    db.session.commit()
    assert client.get(f"{base}/docs/{one.id}/edit").status_code == 200
    client.post(f"{base}/docs/{one.id}/edit", data={"title": "First", "content": "1!"})
    client.post(f"{base}/docs/{two.id}/move", data={"direction": "up"})
    db.session.expire_all()
    assert [d.title for d in app.documentation] == ["Two", "First"]
    client.post(f"{base}/docs/{two.id}/delete")
    db.session.expire_all()
    assert [d.title for d in app.documentation] == ["First"]
    # Settings errors re-render the form; removing from the Registry works.
    bad_settings = client.post(f"{base}/settings", data={
        "name": "Actions", "type": "CIRCUIT", "visibility": "PRIVATE", "license_type": "MIT",
    })  # fmt: skip
    assert bad_settings.status_code == 422
    assert "remove it from the Registry" in bad_settings.get_data(as_text=True)
    assert client.post(f"{base}/registry/remove").status_code == 302
    db.session.expire_all()
    assert not app.is_in_registry
    refused_publish = client.post(f"{base}/registry", data={}, follow_redirects=True)
    assert refused_publish.status_code == 200


def test_admin_features_an_app_and_version_pages(client, login_as):
    app = registry_app(name="Featured")
    newer = add_version(app, "1.1.0")
    draft = add_version(app, "2.0.0", publish=False)
    admin = UserFactory(admin=True)
    login_as(admin)
    db.session.commit()
    assert client.post(f"/apps/{app.id}/feature", data={"featured": "1"}).status_code == 302
    db.session.expire_all()
    assert app.featured_in_registry
    assert client.get(f"/registry/{app.id}/versions/{draft.id}").status_code == 404
    page = client.get(f"/registry/{app.id}/versions/{newer.id}").get_data(as_text=True)
    assert "Download v1.1.0" in page and "Example job request" in page
    older = next(v for v in app.versions if v.version_number == "1.0.0")
    download = client.post(f"/registry/{app.id}/download", data={"version_id": str(older.id)})
    assert download.headers["Content-Disposition"].endswith("featured-1.0.0.zip")
    assert client.post(f"/registry/{app.id}/download", data={"version_id": str(draft.id)}
                       ).status_code == 404  # fmt: skip
    like = client.post(f"/registry/{app.id}/like")
    assert like.status_code == 302


def test_the_page_and_the_api_refuse_a_bad_app_with_the_same_schema(client, login_as, api_headers):
    """One parse per action: the app form loads through the API's AppCreateSchema, so a bad
    field gets the same message on the page and in the API, and neither saves anything."""
    provider = UserFactory(provider=True)
    login_as(provider)
    db.session.commit()
    bad = {"name": "Teleport", "type": "QUANTUM_TOASTER", "tags": "a, b"}
    page = client.post("/apps/new", data=bad)
    api = client.post("/api/v1/quantum-apps/", json={**bad, "tags": ["a", "b"]},
                      headers=api_headers(provider))  # fmt: skip
    assert page.status_code == api.status_code == 422
    message = api.get_json()["error"]["details"]["type"][0]
    assert message.startswith("Must be one of")
    assert f"Type: {message}" in page.get_data(as_text=True)
    db.session.remove()
    assert db.session.execute(db.select(QuantumApp).filter_by(name="Teleport")).first() is None
    good = client.post("/apps/new", data={**bad, "type": "ALGORITHM"})
    assert good.status_code == 302
    db.session.remove()
    saved = db.session.execute(db.select(QuantumApp).filter_by(name="Teleport")).scalar_one()
    assert saved.type.name == "ALGORITHM" and [t.name for t in saved.tags] == ["a", "b"]
