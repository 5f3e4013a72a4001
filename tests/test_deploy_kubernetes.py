"""The Kubernetes manifests under deploy/, validated without a cluster: ``kubernetes-validate --strict`` against the
oldest supported and the newest schema, and what they must mean (probes, resources, configuration, services,
autoscaling and disruption budgets, network policies)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shared.settings import Settings
from shared.vouching import vouched_user

from .support.deploy import (
    APP_SERVICES,
    BIN,
    CONFIG_KEYS,
    DEPLOY,
    HTTP_SERVICES,
    K8S_MIN_VERSION,
    MANIFESTS,
    NAMESPACE,
    SERVICE_PORTS,
    Manifests,
    config_data,
    container,
    deployments,
    manifest_files,
    python_one_liner,
    run,
)


def kubernetes_validate(files: list[Path], version: str) -> subprocess.CompletedProcess[str]:
    binary = BIN / "kubernetes-validate"
    assert binary.exists(), f"{binary} is missing: pip install -e '.[dev]'"
    return run([str(binary), "--strict", "--kubernetes-version", version, *map(str, files)])


def latest_schema_version() -> str:
    from kubernetes_validate import utils

    return str(utils.latest_version())


@pytest.mark.parametrize("version", [K8S_MIN_VERSION, "latest"])
def test_kubernetes_validate_strict(version: str, k8s: Manifests) -> None:
    version = latest_schema_version() if version == "latest" else version
    result = kubernetes_validate(manifest_files(), version)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # kubernetes-validate only warns (exit 0) when it has no schema for a kind/apiVersion: not acceptable here.
    assert "WARN" not in output and "ERROR" not in output and "FATAL" not in output, output
    for kind, name in k8s:
        assert f"passed for resource {kind.lower()}/{name} " in output, f"{kind}/{name} was not validated"


def test_kubernetes_validate_strict_rejects_unknown_fields(tmp_path: Path) -> None:
    """The strict schemas are really in force: a misspelt probe key fails."""
    broken = tmp_path / "gateway.yaml"
    broken.write_text((DEPLOY / "gateway.yaml").read_text().replace("readinessProbe:", "readinesProbe:"))
    result = kubernetes_validate([broken], K8S_MIN_VERSION)
    assert result.returncode != 0
    assert "readinesProbe" in result.stdout


# --- Kubernetes manifests: what they must mean ------------------------------------------------------------


def test_manifest_files_one_per_concern(k8s: Manifests) -> None:
    assert {path.stem for path in manifest_files()} == set(MANIFESTS)
    assert ("Namespace", NAMESPACE) in k8s
    for (kind, name), doc in k8s.items():
        if kind != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{kind}/{name} is not in {NAMESPACE}"


def test_configmap_holds_the_settings_the_services_read(k8s: Manifests) -> None:
    data = config_data(k8s)
    assert set(CONFIG_KEYS) <= set(data), set(CONFIG_KEYS) - set(data)
    assert all(isinstance(value, str) for value in data.values()), "ConfigMap values must be strings"
    assert data["AMQP_URL"] == "amqp://guest:guest@rabbitmq:5672/"
    assert data["GATEWAY_BROKER_USER"] == "guest", "the user of AMQP_URL: the services validate once"
    assert data["DATABASE_URL"] == "mongodb://mongodb:27017/alertbus"
    assert data["HOST"] == "0.0.0.0"
    assert "ADMIN_KEY" not in data, "ADMIN_KEY belongs in the Secret"
    secret = k8s[("Secret", "alertbus-secret")]
    assert set(secret["stringData"]) == {"ADMIN_KEY", "SERVICE_SECRET"}
    assert all("REPLACE" in value for value in secret["stringData"].values()), "committed secrets are placeholders"
    text = (DEPLOY / "configmap.yaml").read_text()
    assert "operator" in text and "rabbitmq_consistent_hash_exchange" in text
    # The services accept this configuration (a bad value would stop them at start-up).
    settings = Settings.from_env({**data, **secret["stringData"]})
    assert (settings.gateway.port, settings.query.port, settings.hooks.port) == (8080, 8081, 8082)
    assert settings.host == "0.0.0.0" and settings.auth_required and settings.shards == 8
    assert settings.ingest.port == 8083 and settings.log_format == "json"
    assert vouched_user(settings) == "guest"
    schedules = settings.ingest.housekeeping_interval, settings.ingest.heartbeat_watch_interval
    assert min(schedules) > 0, "the schedules are on"


def test_deployments_probes_resources_and_config(k8s: Manifests) -> None:
    found = deployments(k8s)
    assert set(found) == set(APP_SERVICES)
    for name, deployment in found.items():
        spec = deployment["spec"]
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items(), name
        assert pod["terminationGracePeriodSeconds"] == 30, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        box = container(deployment)
        assert box["command"] == ["alertbus", name]
        sources = box["envFrom"]
        assert {"configMapRef": {"name": "alertbus-config"}} in sources, f"{name} does not read the ConfigMap"
        assert {"secretRef": {"name": "alertbus-secret"}} in sources, f"{name} does not read the Secret"
        requests, limits = box["resources"]["requests"], box["resources"]["limits"]
        assert {"cpu", "memory"} <= set(requests) and {"cpu", "memory"} <= set(limits), name
        ports = {port["name"] for port in box.get("ports", [])} | {
            port["containerPort"] for port in box.get("ports", [])
        }
        for probe_name in ("readinessProbe", "livenessProbe"):
            probe = box.get(probe_name)
            assert probe, f"{name} has no {probe_name}"
            handlers = {"httpGet", "tcpSocket", "exec", "grpc"} & set(probe)
            assert len(handlers) == 1, f"{name} {probe_name}: {probe}"
            handler = handlers.pop()
            if handler in ("httpGet", "tcpSocket"):
                assert probe[handler]["port"] in ports, f"{name} {probe_name} checks an undeclared port"
            else:
                # Only a container without any port may fall back to a command, and it must be valid Python.
                assert handler == "exec" and not box.get("ports"), f"{name} {probe_name}: {handler}"
                compile(python_one_liner(probe["exec"]["command"]), f"{name}-{probe_name}", "exec")


def test_probe_routes_match_each_service(k8s: Manifests) -> None:
    """Readiness is gtg (broker and store answer), liveness the dependency-free ``/_``, on every service."""
    for name, deployment in deployments(k8s).items():
        box = container(deployment)
        assert box["readinessProbe"]["httpGet"]["path"] == "/management/gtg", name
        assert box["livenessProbe"]["httpGet"]["path"] == "/_", name
        (port,) = box["ports"]
        assert port["containerPort"] == SERVICE_PORTS[name], name


def app_routes(name: str) -> set[str]:
    """The GET paths a service's own app serves, built from its factory (nothing is started)."""
    from services import gateway, hooks, ingest, query
    from services.ingest.ops import create_ops_app

    settings = Settings.from_env({})
    if name == "ingest":
        app = create_ops_app(ingest.create_worker(settings))
    else:
        app = {"gateway": gateway, "query": query, "hooks": hooks}[name].create_app(settings)
    return {route.resource.canonical for route in app.router.routes()
            if route.method == "GET" and route.resource is not None}


def test_probes_and_scrapes_use_routes_each_service_serves(k8s: Manifests) -> None:
    for name, deployment in deployments(k8s).items():
        routes = app_routes(name)
        box = container(deployment)
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(box["ports"][0]["containerPort"]), name
        paths = {annotations["prometheus.io/path"], box["readinessProbe"]["httpGet"]["path"],
                 box["livenessProbe"]["httpGet"]["path"]}
        assert paths <= routes, (name, paths - routes)


def test_services_route_to_the_http_deployments(k8s: Manifests) -> None:
    data = config_data(k8s)
    expected_ports = {"gateway": data["PORT"], "query": data["QUERY_PORT"], "hooks": data["HOOKS_PORT"]}
    services = {name: doc for (kind, name), doc in k8s.items() if kind == "Service"}
    assert set(services) == set(HTTP_SERVICES), "ingest needs no Service; every HTTP service has one"
    found = deployments(k8s)
    for name, service in services.items():
        labels = found[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        box = container(found[name])
        (port,) = service["spec"]["ports"]
        (container_port,) = box["ports"]
        assert port["targetPort"] in (container_port["name"], container_port["containerPort"]), name
        assert str(container_port["containerPort"]) == expected_ports[name] == str(port["port"]), name
    query_url = urlsplit(data["QUERY_URL"])
    assert (query_url.hostname, query_url.port) == ("query", services["query"]["spec"]["ports"][0]["port"])


def test_hpas_target_existing_deployments(k8s: Manifests) -> None:
    hpas = [doc for (kind, _), doc in k8s.items() if kind == "HorizontalPodAutoscaler"]
    assert all(doc["apiVersion"] == "autoscaling/v2" for doc in hpas)
    found = deployments(k8s)
    targets = {}
    for hpa in hpas:
        ref = hpa["spec"]["scaleTargetRef"]
        assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
        assert ref["name"] in found, f"HPA {hpa['metadata']['name']} targets a missing Deployment"
        targets[ref["name"]] = hpa["spec"]
    assert set(targets) == {"gateway", "ingest"}
    for name, spec in targets.items():
        assert 1 <= spec["minReplicas"] <= spec["maxReplicas"], name
        # Utilization targets are relative to the requests, so the target must declare them.
        for metric in spec["metrics"]:
            resource = metric["resource"]["name"]
            assert resource in container(found[name])["resources"]["requests"], name
    # One single active consumer per shard queue: ingest workers beyond INGEST_SHARDS would only stand by.
    assert targets["ingest"]["maxReplicas"] <= int(config_data(k8s)["INGEST_SHARDS"])
    assert targets["ingest"]["minReplicas"] >= 2 and targets["gateway"]["minReplicas"] >= 2


def test_pdbs_cover_gateway_and_ingest_without_blocking_drains(k8s: Manifests) -> None:
    pdbs = {name: doc for (kind, name), doc in k8s.items() if kind == "PodDisruptionBudget"}
    assert all(doc["apiVersion"] == "policy/v1" for doc in pdbs.values())
    found = deployments(k8s)
    hpa_min = {
        doc["spec"]["scaleTargetRef"]["name"]: doc["spec"]["minReplicas"]
        for (kind, _), doc in k8s.items() if kind == "HorizontalPodAutoscaler"
    }
    covered = set()
    for name, pdb in pdbs.items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        matches = [dep for dep, doc in found.items()
                   if selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matches) == 1, f"PDB {name} selects {matches}"
        target = matches[0]
        covered.add(target)
        if "minAvailable" in pdb["spec"]:
            assert pdb["spec"]["minAvailable"] < hpa_min[target], f"PDB {name} would block every eviction"
        else:
            assert pdb["spec"]["maxUnavailable"] >= 1
    assert covered == {"gateway", "ingest"}



# --- who may reach what -----------------------------------------------------------------------------------


def test_network_policies_expose_only_the_gateway(k8s: Manifests) -> None:
    policies = {name: doc["spec"] for (kind, name), doc in k8s.items() if kind == "NetworkPolicy"}
    deny = policies["default-deny-ingress"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and not deny.get("ingress")
    by_component = {spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: spec
                    for name, spec in policies.items() if name != "default-deny-ingress"}
    assert set(by_component) == set(APP_SERVICES)
    assert by_component["gateway"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    for name in ("query", "hooks"):
        rules = by_component[name]["ingress"]
        assert all(rule.get("from") for rule in rules), f"{name} must not be open to everyone"
        from_gateway = [peer["podSelector"]["matchLabels"] for rule in rules for peer in rule["from"]
                        if "podSelector" in peer]
        assert from_gateway == [{"app.kubernetes.io/name": "alertbus", "app.kubernetes.io/component": "gateway"}]
    assert all(rule.get("from") for rule in by_component["ingest"]["ingress"])
    secret = k8s[("Secret", "alertbus-secret")]["stringData"]
    assert "SERVICE_SECRET" in secret
