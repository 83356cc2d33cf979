"""Build validation (parse in the request, simulate on a worker) and release as an app,
through services and the API."""

import io
import json
import zipfile

import pytest

from portal.apps.models import AppVersion, QuantumApp, VersionStatus
from portal.core.errors import Conflict, ValidationFailed
from portal.core.extensions import db
from portal.projects import services
from tests.build_checks import run_build_checks
from tests.factories.projects import ProjectFactory

BROKEN = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0]\ncx q[0], q[1];\n'


def built(project, **kwargs):
    """Build, let the queued simulation check run as a worker runs it, and build again (what
    the IDE's poll does): the finished report."""
    result = services.build(project, **kwargs)
    if result.checking:
        assert run_build_checks() == 1
        result = services.build(project, **kwargs)
    assert not result.checking
    return result


def test_build_checks_on_a_worker_then_passes_and_packages_the_project(project):
    first = services.build(project, version="0.1.0")
    assert first.checking and first.status == "checking" and not first.passed
    assert first.package is None and first.reasons() == []
    assert [c["name"] for c in first.validation["checks"]] == ["parse main.qasm", "simulate"]
    result = built(project, version="0.1.0")
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
    result = built(project, version="1.0.0")
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
    built(project, version="0.1.0")
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
    built(project, version="0.1.0")
    first = services.release(owner, project, name="Bell app", version="0.1.0")
    services.write_file(
        project, "main.qasm", services.get_file(project, "main.qasm").content + "\n"
    )
    built(project, version="0.2.0")  # a changed program is checked again
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
    built(project, version="0.1.0")
    first = services.release(owner, project, name="Gone", version="0.1.0")
    db.session.delete(first.app)
    db.session.flush()
    again = services.release(owner, project, name="Back", version="0.1.0")
    assert again.created_app and project.quantum_app_id == again.app.id


def test_release_api(client, api_headers, owner, project):
    built(project, version="1.0.0")
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
    url = f"/api/v1/projects/{project.id}/build"
    checking = client.post(url, json={"version": "0.3.0"}, headers=headers)
    assert checking.status_code == 202, checking.json
    assert checking.json["status"] == "checking" and checking.json["passed"] is False
    status_url = checking.json["status_url"]
    assert checking.headers["Location"] == status_url
    assert client.get(status_url, headers=headers).status_code == 202  # still checking
    refused = client.get(f"/api/v1/projects/{project.id}/package?version=0.3.0", headers=headers)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "build_checking"
    assert run_build_checks() == 1
    built = client.get(status_url, headers=headers)
    assert built.status_code == 200
    assert built.json["status"] == "passed" and built.json["passed"] is True
    assert built.json["package_size"] > 0
    again = client.post(url, json={"version": "0.3.0"}, headers=headers)
    assert again.status_code == 200 and again.json["passed"] is True  # the result is reused
    download = client.get(f"/api/v1/projects/{project.id}/package?version=0.3.0", headers=headers)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert "bell-lab-0.3.0.zip" in download.headers["Content-Disposition"]
    services.write_file(project, "main.qasm", BROKEN)
    refused = client.get(f"/api/v1/projects/{project.id}/package?version=0.3.0", headers=headers)
    assert refused.status_code == 422


def test_release_refuses_while_the_check_runs(owner, project):
    with pytest.raises(Conflict, match="still running on a worker"):
        services.release(owner, project, name="Early", version="0.1.0")
    assert db.session.query(QuantumApp).count() == 0


def test_release_refuses_a_program_that_fails_the_simulation(monkeypatch, owner, project):
    """It parses, but the worker's simulation fails: that failure is the release's reason."""
    from qiskit_aer import AerSimulator

    def broken(self, *args, **kwargs):
        raise RuntimeError("Aer says no")

    monkeypatch.setattr(AerSimulator, "run", broken)  # in the worker body run_build_checks runs
    result = built(project, version="0.1.0")
    assert result.status == "failed" and not result.passed
    assert result.reasons() == ["Simulation failed: Aer says no"]
    with pytest.raises(ValidationFailed, match="Aer says no"):
        services.release(owner, project, name="Bad", version="0.1.0")
    assert db.session.query(QuantumApp).count() == 0


def test_too_big_for_the_memory_budget_is_refused_in_the_request_with_the_figure(
    app, monkeypatch, client, api_headers, owner, project
):
    """30 qubits would need 16 GiB: refused by the request with why and what to do, nothing
    enqueued, and nothing in the request path may simulate."""
    monkeypatch.setitem(app.config, "WORKER_MEMORY_MB", 1024)  # the default is the machine's
    from qiskit_aer import AerSimulator

    from portal.projects import checks

    def no_simulation_here(*args, **kwargs):
        raise AssertionError("the web process must never simulate")

    monkeypatch.setattr(AerSimulator, "__init__", no_simulation_here)
    monkeypatch.setattr(checks, "_simulate", no_simulation_here)
    services.write_file(
        project,
        "main.qasm",
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[30];\ncreg c[30];\nh q;\nmeasure q -> c;\n',
    )
    response = client.post(
        f"/api/v1/projects/{project.id}/build",
        json={"version": "0.1.0"},
        headers=api_headers(owner),
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "failed"
    (simulate,) = [c for c in response.json["validation"]["checks"] if c["name"] == "simulate"]
    assert simulate["passed"] is False
    assert simulate["statevector_bytes"] == 16 * 2**30 and simulate["memory_budget_mb"] == 1024
    assert "16 GiB" in simulate["message"] and "QH_WORKER_MEMORY_MB=1024" in simulate["message"]
    assert "at most 26 qubits" in simulate["message"]
    assert "fewer qubits" in simulate["message"] and "stabilizer" in simulate["message"]
    assert run_build_checks() == 0  # nothing was sent to the workers
    refused = client.post(
        f"/api/v1/projects/{project.id}/release",
        json={"name": "Huge", "version": "0.1.0"},
        headers=api_headers(owner),
    )
    assert refused.status_code == 422 and "16 GiB" in refused.json["error"]["message"]


def test_the_memory_budget_is_configurable(app, monkeypatch, owner, project):
    monkeypatch.setitem(app.config, "WORKER_MEMORY_MB", 1)  # 1 MiB: 16 qubits at most
    services.write_file(
        project, "main.qasm", 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[17];\nh q;\n'
    )
    result = services.build(project, version="0.1.0")
    assert result.status == "failed" and "at most 16 qubits" in result.reasons()[0]
    assert "2 MiB" in result.reasons()[0]


def test_the_worker_bounds_memory_too(app, monkeypatch, owner, project):
    """The worker checks the budget itself (its own QH_WORKER_MEMORY_MB) and gives it to Aer."""
    from portal.projects import checks

    monkeypatch.setitem(app.config, "WORKER_MEMORY_MB", 1024)

    source = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[28];\nh q;\n'
    result = checks.run_check("k" * 32, source, "qasm2", None, 64)
    assert result["passed"] is False and "4 GiB" in result["message"]
    assert checks.stored_result("k" * 32) == result


def test_a_lost_check_is_enqueued_again(owner, project):
    from portal.core.queue import job_queue

    first = services.build(project, version="0.1.0")
    assert first.checking
    job_queue().empty()  # Redis lost it (or its worker died)
    assert services.build(project, version="0.1.0").checking
    assert run_build_checks() == 1
    assert services.build(project, version="0.1.0").passed


def test_build_check_runs_on_a_real_worker_and_reports_back(
    monkeypatch, app, client, api_headers, owner, project, start_worker
):
    """The API waits (QH_BUILD_WAIT_SECONDS) while a real ``flask worker`` simulates; the web
    process never does."""
    from qiskit_aer import AerSimulator

    def no_simulation_here(*args, **kwargs):
        raise AssertionError("the web process must never simulate")

    monkeypatch.setattr(AerSimulator, "__init__", no_simulation_here)
    app.config["BUILD_WAIT_SECONDS"] = 60
    start_worker()
    headers = api_headers(owner)
    response = client.post(
        f"/api/v1/projects/{project.id}/build", json={"version": "0.1.0"}, headers=headers
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "passed" and response.json["package_size"] > 0
    (simulate,) = [c for c in response.json["validation"]["checks"] if c["name"] == "simulate"]
    assert simulate["message"].startswith("Simulated 64 shots on Aer")
    assert set(simulate["counts"]) <= {"00", "11"} and sum(simulate["counts"].values()) == 64
    released = client.post(
        f"/api/v1/projects/{project.id}/release",
        json={"name": "Bell app", "version": "0.1.0"},
        headers=headers,
    )
    assert released.status_code == 201, released.json
    assert released.json["validation"]["passed"] is True
