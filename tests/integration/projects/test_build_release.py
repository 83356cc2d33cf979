"""Build validation (parse + simulate) and release as an app, through services and the API."""

import io
import json
import zipfile

import pytest

from portal.apps.models import AppVersion, QuantumApp, VersionStatus
from portal.core.errors import ValidationFailed
from portal.extensions import db
from portal.projects import services
from tests.factories.projects import ProjectFactory

BROKEN = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0]\ncx q[0], q[1];\n'


def test_build_passes_and_packages_the_project(project):
    result = services.build(project, version="0.1.0")
    assert result.passed, result.reasons()
    names = [c["name"] for c in result.validation["checks"]]
    assert names == ["parse main.qasm", "simulate", "package"]
    archive = zipfile.ZipFile(io.BytesIO(result.package))
    assert {"manifest.json", "main.qasm", "README.md"} <= set(archive.namelist())
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["name"] == "Bell lab" and manifest["version"] == "0.1.0"
    assert manifest["entry_program"] == "main.qasm" and manifest["sdk"] == "OPENQASM2"
    assert manifest["number_of_qubits"] == 2
    assert result.manifest["resource_estimate"]["gate_counts"]["cx"] == 1


def test_build_of_parameterised_program_has_input_schema(owner):
    project = ProjectFactory(user=owner, files__starter="vqe")
    result = services.build(project, version="1.0.0")
    assert result.passed, result.reasons()
    assert result.manifest["sdk"] == "OPENQASM3"
    assert sorted(result.manifest["input_schema"]["properties"]) == [
        "theta0", "theta1", "theta2", "theta3",
    ]  # fmt: skip
    assert result.validation["checks"][0]["name"] == "inputs"


def test_broken_program_fails_validation_with_the_reason(project):
    services.write_file(project, "main.qasm", BROKEN)
    result = services.build(project, version="0.1.0")
    assert not result.passed
    assert result.package is None
    (reason,) = result.reasons()
    assert reason.startswith("main.qasm, line 5")
    with pytest.raises(ValidationFailed) as exc:
        services.require_passing(result)
    assert "cannot be released" in exc.value.message and "main.qasm, line 5" in exc.value.message


def test_every_program_must_parse_not_only_the_entry(project):
    services.create_file(project, "extra.qasm", "OPENQASM 2.0;\nqreg q[1];\nbogus q[0];\n")
    result = services.build(project, version="0.1.0")
    assert not result.passed
    assert any(r.startswith("extra.qasm, line 3") for r in result.reasons())


def test_bad_inputs_json_fails_the_build(owner):
    project = ProjectFactory(user=owner, files__starter="vqe")
    services.write_file(project, "inputs.json", "{not json")
    result = services.build(project, version="0.1.0")
    assert not result.passed
    assert "inputs.json is not valid JSON" in result.reasons()[0]


def test_build_rejects_bad_version_and_entry(project):
    with pytest.raises(ValidationFailed, match="semantic version"):
        services.build(project, version="v1")
    with pytest.raises(ValidationFailed, match=r"\.qasm file"):
        services.build(project, version="1.0.0", entry="README.md")
    services.delete_file(project, "main.qasm")
    with pytest.raises(ValidationFailed, match=r"no \.qasm program"):
        services.build(project, version="1.0.0")


def test_release_creates_app_and_published_version(owner, project):
    released = services.release(
        owner, project, name="Bell app", version="0.1.0", visibility="PUBLIC", license="APACHE_2_0"
    )
    assert released.created_app
    app = db.session.get(QuantumApp, released.app.id)
    assert app.developer_id == owner.id and app.name == "Bell app"
    assert app.visibility.value == "PUBLIC" and app.license_type.value == "APACHE_2_0"
    assert "Bell pair" in app.readme_content
    version = app.versions[0]
    assert version.version_number == "0.1.0" and version.status is VersionStatus.PUBLISHED
    assert version.is_latest and app.latest_version_id == version.id
    assert version.package_data and version.package_sha256
    assert version.number_of_qubits == 2
    assert version.validation_results["build"]["passed"] is True
    assert project.quantum_app_id == app.id
    assert services.next_version(project) == "0.1.1"


def test_later_releases_add_versions(owner, project):
    first = services.release(owner, project, name="Bell app", version="0.1.0")
    services.write_file(
        project, "main.qasm", services.get_file(project, "main.qasm").content + "\n"
    )
    second = services.release(owner, project, name="Bell app", version="0.2.0", release_notes="n")
    assert not second.created_app and second.app.id == first.app.id
    assert [v.version_number for v in second.app.versions] == ["0.1.0", "0.2.0"]
    assert second.app.latest_version.version_number == "0.2.0"
    assert db.session.query(QuantumApp).filter_by(developer_id=owner.id).count() == 1


def test_broken_program_cannot_be_released(owner, project):
    services.write_file(project, "main.qasm", BROKEN)
    with pytest.raises(ValidationFailed, match=r"main\.qasm, line 5"):
        services.release(owner, project, name="Broken", version="0.1.0")
    assert db.session.query(QuantumApp).count() == 0
    assert project.quantum_app_id is None


def test_release_after_the_app_was_deleted_creates_a_new_app(owner, project):
    first = services.release(owner, project, name="Gone", version="0.1.0")
    db.session.delete(first.app)
    db.session.flush()
    again = services.release(owner, project, name="Back", version="0.1.0")
    assert again.created_app and project.quantum_app_id == again.app.id


def test_release_api(client, api_headers, owner, project):
    url = f"/api/v1/projects/{project.id}/release"
    response = client.post(
        url,
        json={"name": "Bell app", "version": "1.0.0", "type": "ALGORITHM"},
        headers=api_headers(owner),
    )
    assert response.status_code == 201, response.json
    assert response.json["created_app"] is True and response.json["version"] == "1.0.0"
    again = client.post(
        url, json={"name": "Bell app", "version": "1.0.0"}, headers=api_headers(owner)
    )
    assert again.status_code == 409
    assert "already exists" in again.json["error"]["message"]
    version = db.session.get(AppVersion, response.json["version_id"])
    assert version.app.type.value == "ALGORITHM"


def test_release_api_refuses_a_broken_build_with_reasons(client, api_headers, owner, project):
    services.write_file(project, "main.qasm", BROKEN)
    response = client.post(
        f"/api/v1/projects/{project.id}/release",
        json={"name": "Broken", "version": "0.1.0"},
        headers=api_headers(owner),
    )
    assert response.status_code == 422
    assert "main.qasm, line 5" in response.json["error"]["message"]
    failed = [c for c in response.json["error"]["details"]["checks"] if not c["passed"]]
    assert failed[0]["line"] == 5


def test_release_needs_the_provider_role(client, api_headers, stranger):
    project = ProjectFactory(user=stranger)
    response = client.post(
        f"/api/v1/projects/{project.id}/release",
        json={"name": "Mine", "version": "0.1.0"},
        headers=api_headers(stranger),
    )
    assert response.status_code == 403
    assert "PROVIDER" in response.json["error"]["message"]


def test_build_and_package_api(client, api_headers, owner, project):
    headers = api_headers(owner)
    built = client.post(
        f"/api/v1/projects/{project.id}/build", json={"version": "0.3.0"}, headers=headers
    )
    assert built.status_code == 200
    assert built.json["passed"] is True and built.json["package_size"] > 0
    download = client.get(f"/api/v1/projects/{project.id}/package?version=0.3.0", headers=headers)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert "bell-lab-0.3.0.zip" in download.headers["Content-Disposition"]
    services.write_file(project, "main.qasm", BROKEN)
    refused = client.get(f"/api/v1/projects/{project.id}/package?version=0.3.0", headers=headers)
    assert refused.status_code == 422
