"""No Docker engine or cluster here, so the deployment files are checked structurally:
they parse, reference what exists, probe the right paths, and never run as root."""

import ast
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


def _k8s_documents():
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def _by_kind(kind):
    return [d for d in _k8s_documents() if d["kind"] == kind]


def test_every_manifest_has_the_basic_fields():
    docs = _k8s_documents()
    assert {d["kind"] for d in docs} >= {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Job",
    }
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"]


def test_deployments_select_their_own_pods_and_run_unprivileged():
    for deployment in _by_kind("Deployment"):
        spec = deployment["spec"]
        assert (
            spec["selector"]["matchLabels"].items()
            <= spec["template"]["metadata"]["labels"].items()
        )
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
            assert refs == {"quantum-hub-config", "quantum-hub-secrets"}


def test_web_probes_use_the_health_endpoints():
    web = next(d for d in _by_kind("Deployment") if d["metadata"]["name"] == "quantum-hub-web")
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_service_and_autoscaler_point_at_the_web_deployment():
    service = _by_kind("Service")[0]
    hpa = _by_kind("HorizontalPodAutoscaler")[0]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "web"
    assert hpa["spec"]["scaleTargetRef"]["name"] == "quantum-hub-web"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_migration_job_and_worker_commands():
    job = _by_kind("Job")[0]
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["flask", "db", "upgrade"]
    worker = next(d for d in _by_kind("Deployment") if "worker" in d["metadata"]["name"])
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == ["flask", "worker"]


def test_compose_file_runs_migrations_once_before_web_and_workers():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker"}
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"
    assert services["web"]["environment"]["QH_ENV"] == "production"


@pytest.mark.parametrize("needed", ["USER quantum", "gunicorn", "AS build", "AS runtime"])
def test_dockerfile_is_multi_stage_non_root_gunicorn(needed):
    assert needed in (DEPLOY / "Dockerfile").read_text()


def test_dockerfile_copies_paths_that_exist():
    root = DEPLOY.parent
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY") and "--from" not in line:
            source = line.split()[-2]
            assert (root / source).exists(), source


def test_gunicorn_config_is_valid_python_with_gthread():
    source = (DEPLOY / "gunicorn.conf.py").read_text()
    ast.parse(source)
    assert 'worker_class = "gthread"' in source
