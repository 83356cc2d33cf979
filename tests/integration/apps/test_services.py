"""Version ordering and the latest flag, the lifecycle and yanking, publish rules,
ownership, tags, documentation pages and likes, on real PostgreSQL."""

import pytest
import sqlalchemy as sa

from portal.apps import metrics, services
from portal.apps.models import AppVersion, AppVisibility, LicenseType, VersionStatus
from portal.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from portal.core.extensions import db
from tests.factories.accounts import UserFactory
from tests.factories.apps import BELL, ROTATION, QuantumAppFactory, add_version


def test_latest_follows_semver_precedence_not_creation_order():
    app = QuantumAppFactory()
    for number in ["1.9.0", "1.10.0", "1.2.0", "2.0.0-rc.1"]:
        add_version(app, number)
    assert app.latest_version.version_number == "1.10.0"
    assert [v.version_number for v in services.sorted_versions(app)] == [
        "2.0.0-rc.1", "1.10.0", "1.9.0", "1.2.0",
    ]  # fmt: skip
    add_version(app, "2.0.0")
    latest = [v.version_number for v in app.versions if v.is_latest]
    assert latest == ["2.0.0"] and app.latest_version_id == app.versions[-1].id


def test_drafts_never_become_latest_and_publishing_moves_the_flag():
    app = QuantumAppFactory()
    add_version(app, "1.0.0")
    draft = add_version(app, "1.1.0", publish=False)
    assert draft.status is VersionStatus.DRAFT and not draft.is_latest
    assert app.latest_version.version_number == "1.0.0"
    services.change_status(draft, VersionStatus.PUBLISHED)
    assert draft.is_latest and draft.published_at is not None
    assert sum(v.is_latest for v in app.versions) == 1


def test_yank_needs_a_reason_moves_latest_back_and_blocks_download():
    app = QuantumAppFactory()
    old = add_version(app, "1.0.0")
    new = add_version(app, "1.1.0")
    with pytest.raises(ValidationFailed, match="Say why"):
        services.change_status(new, "YANKED")
    services.change_status(new, "YANKED", reason="Wrong phase on q[1].")
    assert new.yank_reason == "Wrong phase on q[1]." and not new.is_latest
    assert app.latest_version is old
    with pytest.raises(Conflict, match="Wrong phase"):
        services.download(app, new)
    _version, data, name = services.download(app, new, allow_yanked=True)
    assert data.startswith(b"PK") and name == f"{app.name.lower().replace(' ', '-')}-1.1.0.zip"
    # Un-yanking clears the reason and restores it as latest.
    services.change_status(new, "PUBLISHED")
    assert new.yank_reason is None and app.latest_version is new


def test_when_everything_is_yanked_there_is_no_latest():
    app = QuantumAppFactory()
    only = add_version(app)
    services.change_status(only, "YANKED", reason="Broken.")
    assert app.latest_version_id is None
    with pytest.raises(NotFound, match="no published version"):
        services.download(app)


def test_deprecated_versions_stay_downloadable_and_are_latest_only_as_a_fallback():
    app = QuantumAppFactory()
    one = add_version(app, "1.0.0")
    services.change_status(one, "DEPRECATED")
    assert app.latest_version is one
    assert services.download(app)[0] is one
    two = add_version(app, "0.9.0")
    assert app.latest_version is two


def test_lifecycle_refuses_illegal_moves():
    app = QuantumAppFactory()
    draft = add_version(app, publish=False)
    with pytest.raises(Conflict, match="DRAFT version cannot become YANKED"):
        services.change_status(draft, "YANKED", reason="x")
    with pytest.raises(ValidationFailed, match="not a valid VersionStatus"):
        services.change_status(draft, "GONE")


def test_the_database_allows_only_one_latest_per_app():
    app = QuantumAppFactory()
    add_version(app, "1.0.0")
    second = add_version(app, "1.1.0", publish=False)
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.execute(
            sa.update(AppVersion).where(AppVersion.id == second.id).values(is_latest=True)
        )


def test_duplicate_and_invalid_version_numbers_are_refused():
    app = QuantumAppFactory()
    add_version(app, "1.0.0")
    with pytest.raises(Conflict, match="already exists"):
        add_version(app, "1.0.0")
    with pytest.raises(ValidationFailed, match="semantic version"):
        add_version(app, "1.0")
    with pytest.raises(ValidationFailed, match="Program error"):
        add_version(app, "1.0.1", program="OPENQASM 3.0;\nqubit q;\nfoo q;\n")


def test_versions_store_schema_resources_and_checks():
    app = QuantumAppFactory()
    version = add_version(app, program=ROTATION)
    assert set(version.input_schema["properties"]) == {"theta", "layers"}
    assert version.number_of_qubits == 3
    assert version.resource_estimate["depth"] >= 3
    assert version.validation_results["ok"] is True
    assert len(version.package_sha256) == 64 and version.package_data.startswith(b"PK")


def test_package_version_must_match_the_number_given():
    from portal.apps.packages import build_package

    app = QuantumAppFactory()
    package = build_package(name="x", version="2.0.0", sdk="OPENQASM3",
                            entry_program_path="main.qasm", files={"main.qasm": BELL})  # fmt: skip
    with pytest.raises(ValidationFailed, match="does not match"):
        services.create_version(app, version_number="1.0.0", package=package)
    version = services.create_version(app, package=package, publish=True)
    assert version.version_number == "2.0.0" and version.is_latest


def test_only_drafts_are_deleted():
    app = QuantumAppFactory()
    released = add_version(app, "1.0.0")
    draft = add_version(app, "1.1.0", publish=False)
    with pytest.raises(Conflict, match="yank it instead"):
        services.delete_version(released)
    services.delete_version(draft)
    assert [v.version_number for v in app.versions] == ["1.0.0"]


def test_publish_rules_list_everything_missing():
    app = QuantumAppFactory(
        visibility=AppVisibility.PRIVATE, license_type=LicenseType.PROPRIETARY, readme_content=""
    )
    with pytest.raises(ValidationFailed) as caught:
        services.publish_to_registry(app)
    assert set(caught.value.details) == {"visibility", "license_type", "readme_content", "versions"}
    services.update_app(app, visibility="PUBLIC", license_type="APACHE_2_0", readme_content="# Hi")
    add_version(app)
    services.publish_to_registry(app)
    assert app.is_in_registry and app.registry_published_at is not None
    with pytest.raises(ValidationFailed, match="remove it from the Registry"):
        services.update_app(app, visibility="PRIVATE")


def test_only_the_developer_or_an_admin_changes_an_app():
    owner, other = UserFactory(provider=True), UserFactory(provider=True)
    admin = UserFactory(admin=True)
    public = QuantumAppFactory(developer=owner)
    private = QuantumAppFactory(developer=owner, visibility=AppVisibility.PRIVATE)
    assert services.get_app_for_change(public.id, owner) is public
    assert services.get_app_for_change(private.id, admin) is private
    with pytest.raises(Forbidden, match="developer or an admin"):
        services.get_app_for_change(public.id, other)
    with pytest.raises(NotFound):
        services.get_app_for_change(private.id, other)
    with pytest.raises(NotFound):
        services.get_app(private.id, None)
    with pytest.raises(NotFound):
        services.get_app("not-a-uuid", owner)


def test_creating_apps_needs_the_provider_role_and_unique_names():
    consumer = UserFactory()
    with pytest.raises(Forbidden, match="PROVIDER"):
        services.create_app(consumer, name="Nope")
    provider = UserFactory(provider=True)
    app = services.create_app(provider, name="Grover", tags="Search, search , oracle")
    assert [t.name for t in app.tags] == ["oracle", "search"]  # the relationship's order
    assert metrics.app_metrics(app.id).downloads == 0
    with pytest.raises(Conflict, match="already have an app"):
        services.create_app(provider, name="grover")
    with pytest.raises(ValidationFailed, match="name"):
        services.create_app(provider, name="  ")
    with pytest.raises(ValidationFailed, match="at most"):
        services.set_tags(app, [f"t{i}" for i in range(11)])


def test_documentation_pages_are_ordered_and_reorderable():
    app = QuantumAppFactory()
    first = services.add_doc(app, title="Intro", content="Start here.")
    second = services.add_doc(app, title="Reference", content="All inputs.")
    assert [d.title for d in app.documentation] == ["Intro", "Reference"]
    services.move_doc(app, second, "up")
    assert [d.title for d in app.documentation] == ["Reference", "Intro"]
    services.update_doc(first, title="Introduction", content="Start.")
    services.delete_doc(app, second)
    assert [(d.title, d.order) for d in app.documentation] == [("Introduction", 0)]
    with pytest.raises(ValidationFailed, match="title"):
        services.add_doc(app, title="", content="x")
    with pytest.raises(NotFound):
        services.get_doc(QuantumAppFactory(), first.id)


def test_likes_toggle_once_per_user_and_counts_follow():
    app = QuantumAppFactory()
    fan, other = UserFactory(), UserFactory()
    assert services.toggle_like(app, fan) is True
    assert services.toggle_like(app, other) is True
    assert services.has_liked(app, fan)
    assert metrics.app_metrics(app.id).registry_likes == 2
    assert services.toggle_like(app, fan) is False
    assert metrics.app_metrics(app.id).registry_likes == 1
    assert not services.has_liked(app, fan) and not services.has_liked(app, None)
