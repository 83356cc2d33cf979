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
        "ScaledObject",
        "TriggerAuthentication",
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
    # The web pods' readiness leaves the worker check out (reported, not gating the site).
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz?workers=0"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_worker_liveness_is_its_heartbeat_and_the_grace_covers_a_job():
    worker = next(d for d in _by_kind("Deployment") if "worker" in d["metadata"]["name"])
    spec = worker["spec"]["template"]["spec"]
    container = spec["containers"][0]
    probe = " ".join(container["livenessProbe"]["exec"]["command"])
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["QH_WORKER_BEAT_FILE"] in probe
    # SIGTERM → finish the job or hand it back within the grace, before the SIGKILL.
    job_timeout = 300  # QH_JOB_TIMEOUT_SECONDS' default (one Aer step cannot be interrupted)
    assert spec["terminationGracePeriodSeconds"] > job_timeout + int(
        env["QH_WORKER_STOP_GRACE_SECONDS"]
    )


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


def _gunicorn_settings() -> dict:
    """deploy/gunicorn.conf.py loaded as gunicorn loads it."""
    import runpy

    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


@pytest.fixture
def gc_calls(monkeypatch):
    """gc.collect/freeze recorded instead of run; the collector's thresholds restored."""
    import gc

    calls: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(gc, "collect", lambda: calls.append("collect"))
    before = gc.get_threshold()
    yield calls
    gc.set_threshold(*before)


def test_gunicorn_config_shortens_the_gil_switch_interval(monkeypatch):
    """Loaded as gunicorn loads it; the workers fork from that process and inherit it."""
    import sys

    monkeypatch.setattr(sys, "setswitchinterval", lambda value: seen.append(value))
    seen: list[float] = []
    settings = _gunicorn_settings()
    assert seen == [0.001]
    assert settings["workers"] >= 1 and settings["threads"] > 1


def test_gunicorn_workers_freeze_the_loaded_app_out_of_garbage_collection(gc_calls):
    """After a worker loads the app, a full collection no longer walks the app's objects."""
    import gc
    from types import SimpleNamespace

    settings = _gunicorn_settings()
    default_threshold = gc.get_threshold()[0]
    settings["post_worker_init"](SimpleNamespace(sockets=["listening"]))
    assert gc_calls == ["collect", "freeze"]  # garbage first, so none of it is kept forever
    assert gc.get_threshold() == (settings["GC_THRESHOLD"], 10, 10)
    assert settings["GC_THRESHOLD"] > default_threshold


def test_workers_listen_on_their_own_socket_only_once_the_app_is_loaded(monkeypatch, gc_calls):
    """gunicorn opens a worker's SO_REUSEPORT socket at fork; the config closes it then and
    opens it after the app has loaded, so no connection waits on a loading worker."""
    from types import SimpleNamespace

    from gunicorn import sock

    monkeypatch.delenv("QH_WEB_REUSE_PORT", raising=False)
    settings = _gunicorn_settings()
    assert settings["reuse_port"] is True
    closed, opened = [], []
    monkeypatch.setattr(sock, "close_sockets", lambda listeners, unlink: closed.extend(listeners))
    monkeypatch.setattr(sock, "create_sockets", lambda cfg, log: opened.append(cfg) or ["new"])
    worker = SimpleNamespace(sockets=["at fork"], cfg="cfg", log="log")
    settings["post_fork"](server=None, worker=worker)
    assert closed == ["at fork"] and worker.sockets == []
    settings["post_worker_init"](worker)
    assert opened == ["cfg"] and worker.sockets == ["new"]


def test_one_shared_socket_when_reuse_port_is_off(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setenv("QH_WEB_REUSE_PORT", "0")
    settings = _gunicorn_settings()
    worker = SimpleNamespace(sockets=["shared"], cfg=None, log=None)
    settings["post_fork"](server=None, worker=worker)
    assert settings["reuse_port"] is False and worker.sockets == ["shared"]


def _exported_metric_names():
    """Metric names the portal exports (ops.py counters/histograms, jobmetrics gauges)."""
    import re

    names = set()
    for module in ("portal/core/ops.py", "portal/execution/metrics.py"):
        names |= set(re.findall(r'"(qh_[a-z_]+)"', (DEPLOY.parent / module).read_text()))
    return names


def _metric_names_in(expr):
    import re

    found = set(re.findall(r"\b(qh_[a-z_]+?)(?:_bucket)?\b", expr))
    return {n.removesuffix("_bucket") for n in found}


def test_alert_rules_cover_the_issue_and_use_exported_metrics():
    rules = yaml.safe_load((DEPLOY / "monitoring" / "alerts.yaml").read_text())["groups"][0]
    names = {rule["alert"] for rule in rules["rules"]}
    assert {
        "QuantumHubHighErrorRate",
        "QuantumHubSlowRequests",
        "QuantumHubQueueBacklog",
        "QuantumHubStuckJobs",
        "QuantumHubWebhooksFailing",
    } <= names
    exported = _exported_metric_names()
    for rule in rules["rules"]:
        assert _metric_names_in(rule["expr"]) <= exported, rule["alert"]


def test_grafana_dashboard_panels_use_exported_metrics():
    import json

    dashboard = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {"Request rate", "Error rate (5xx share)", "Latency percentiles", "Queue depth",
            "Jobs by state", "Job duration (last 15 min)"} <= titles  # fmt: skip
    exported = _exported_metric_names()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert _metric_names_in(target["expr"]) <= exported, panel["title"]


def test_compose_redis_evicts_only_expiring_keys_under_memory_pressure():
    command = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["redis"]["command"]
    settings = dict(zip(command[1::2], command[2::2], strict=False))
    assert settings["--maxmemory-policy"] == "volatile-lru"  # caches go, queued jobs stay
    assert settings["--maxmemory"].endswith("mb")


# --- Scale-out: KEDA scales the workers on the queue's length, the HPA the web on CPU. ---

# KEDA's redis scaler: the parameters a TriggerAuthentication may set.
KEDA_REDIS_AUTH_PARAMETERS = {"address", "host", "port", "username", "password"} | {
    "tls",
    "ca",
    "cert",
    "key",
    "keyPassword",
}


def _named(kind: str, name: str) -> dict:
    found = [d for d in _by_kind(kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"one {kind} named {name}, found {len(found)}"
    return found[0]


def _secret_keys(name: str) -> set[str]:
    secret = _named("Secret", name)
    return set(secret.get("stringData", {})) | set(secret.get("data", {}))


def test_keda_scales_the_worker_deployment_on_the_rq_queue_list():
    from portal.core.queue import QUEUE_NAME

    scaled = _named("ScaledObject", "quantum-hub-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert target.get("kind", "Deployment") == "Deployment"
    worker = _named("Deployment", target["name"])
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == ["flask", "worker"]
    # At least one worker always runs (reconciler, heartbeat); the bounds are sane.
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]

    [trigger] = spec["triggers"]
    assert trigger["type"] == "redis"
    metadata = trigger["metadata"]
    assert metadata["listName"] == f"rq:queue:{QUEUE_NAME}"  # RQ's key for the queue's list
    # KEDA reads every metadata value as a string.
    assert all(isinstance(value, str) for value in metadata.values()), metadata
    assert int(metadata["listLength"]) > 0
    assert "keyName" not in metadata  # one of listName/keyName, never both


def test_keda_reads_the_same_redis_as_the_portal():
    from urllib.parse import urlsplit

    url = urlsplit(_named("Secret", "quantum-hub-secrets")["stringData"]["QH_REDIS_URL"])
    metadata = _named("ScaledObject", "quantum-hub-worker")["spec"]["triggers"][0]["metadata"]
    assert metadata["databaseIndex"] == (url.path.strip("/") or "0")
    assert metadata["enableTLS"] == ("true" if url.scheme == "rediss" else "false")

    # The connection and password come from a TriggerAuthentication backed by a Secret.
    trigger = _named("ScaledObject", "quantum-hub-worker")["spec"]["triggers"][0]
    auth = _named("TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["apiVersion"] == "keda.sh/v1alpha1"
    refs = auth["spec"]["secretTargetRef"]
    assert {ref["parameter"] for ref in refs} <= KEDA_REDIS_AUTH_PARAMETERS
    assert {"address", "password"} <= {ref["parameter"] for ref in refs}
    for ref in refs:
        assert ref["key"] in _secret_keys(ref["name"]), ref
    secret = _named("Secret", "quantum-hub-keda-redis")["stringData"]
    assert secret["address"] == f"{url.hostname}:{url.port or 6379}"
    assert secret["password"] == url.password
    # Not both: TLS in the trigger's metadata and a `tls` parameter in the authentication.
    assert not ({"tls", "ca", "cert", "key"} & {ref["parameter"] for ref in refs})


def test_web_replicas_scale_on_cpu_against_a_cpu_request():
    hpa = _named("HorizontalPodAutoscaler", "quantum-hub-web")
    assert hpa["apiVersion"] == "autoscaling/v2"
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    target = metric["resource"]["target"]
    assert target["type"] == "Utilization" and 0 < target["averageUtilization"] <= 100
    web = _named("Deployment", hpa["spec"]["scaleTargetRef"]["name"])
    # Utilization is a share of the request: without one the HPA cannot compute it.
    for container in web["spec"]["template"]["spec"]["containers"]:
        assert container["resources"]["requests"]["cpu"]


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler():
    """A fixed `replicas` would reset the autoscaler's choice at every `kubectl apply`."""
    targets = {d["spec"]["scaleTargetRef"]["name"] for d in _by_kind("HorizontalPodAutoscaler")}
    targets |= {d["spec"]["scaleTargetRef"]["name"] for d in _by_kind("ScaledObject")}
    assert targets == {"quantum-hub-web", "quantum-hub-worker"}
    for name in targets:
        assert "replicas" not in _named("Deployment", name)["spec"], name


def test_every_manifest_is_labelled_as_the_portal():
    for doc in _k8s_documents():
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/name") == "quantum-hub", doc["metadata"]["name"]
