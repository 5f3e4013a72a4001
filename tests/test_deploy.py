"""The deployment artefacts (Dockerfile, docker-compose.yml, deploy/ Kubernetes manifests), validated without a
cluster or a Docker daemon: `docker-compose config`, `yamllint`, `kubernetes-validate --strict`, and checks of
what the files must mean (probes, resources, configuration, autoscaling targets, one image for every service)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
BIN = Path(sys.executable).parent

APP_SERVICES = ("gateway", "query", "hooks", "ingest")
HTTP_SERVICES = ("gateway", "query", "hooks")  # those with a Service (ingest's port serves only ops routes)
MANIFESTS = ("namespace", "configmap", "secret", "gateway", "query", "hooks", "ingest", "hpa", "pdb", "networkpolicy")
NAMESPACE = "alertbus"
CONFIG_KEYS = (
    "AMQP_URL", "BROKER_PREFIX", "DATABASE_URL", "HOST", "PORT", "QUERY_PORT", "HOOKS_PORT", "QUERY_URL",
    "AUTH_REQUIRED", "ALLOWED_ENVIRONMENTS", "INGEST_SHARDS", "LOG_LEVEL", "LOG_FORMAT", "INGEST_PORT",
    "HOUSEKEEPING_INTERVAL", "HEARTBEAT_WATCH_INTERVAL", "DELETE_EXPIRED_AFTER", "DELETE_INFO_AFTER",
)
SERVICE_PORTS = {"gateway": 8080, "query": 8081, "hooks": 8082, "ingest": 8083}
# Oldest Kubernetes release the manifests must validate against (autoscaling/v2 and policy/v1 are GA there),
# besides the newest schema kubernetes-validate ships. Both are bundled with the package: no network needed.
K8S_MIN_VERSION = "1.30.0"


COMPOSE_ENV = {**os.environ, "SERVICE_SECRET": "compose-test-secret"}  # the Compose file requires it


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("env", COMPOSE_ENV)
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=50, **kwargs)


def docker_compose() -> str:
    found = shutil.which("docker-compose") or "/usr/bin/docker-compose"
    assert Path(found).exists(), "docker-compose is missing: apt-get install -y docker-compose"
    return found


def manifest_files() -> list[Path]:
    return sorted(DEPLOY.glob("*.yaml"))


def load_manifests() -> dict[tuple[str, str], dict[str, Any]]:
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                key = (doc["kind"], doc["metadata"]["name"])
                assert key not in resources, f"{key} is defined twice"
                resources[key] = doc
    return resources


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    return load_manifests()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The Compose file as docker-compose resolves it (anchors merged, variables interpolated)."""
    result = run([docker_compose(), "-f", str(COMPOSE), "config"])
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def deployments(k8s: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: doc for (kind, name), doc in k8s.items() if kind == "Deployment"}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def config_data(k8s: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    return k8s[("ConfigMap", "alertbus-config")]["data"]


def python_one_liner(command: list[str]) -> str:
    assert command[:2] == ["python", "-c"] and len(command) == 3, command
    return command[2]


# --- the validators named by the product contract --------------------------------------------------------


def test_docker_compose_config_is_valid() -> None:
    result = run([docker_compose(), "-f", "docker-compose.yml", "config", "-q"])
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr


def test_yamllint_passes_on_deployment_files() -> None:
    targets = ["docker-compose.yml", "deploy", ".yamllint"]
    result = run([sys.executable, "-m", "yamllint", "-c", ".yamllint", "-s", *targets])
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_config_catches_problems(tmp_path: Path) -> None:
    """Guards against a linter run that passes because it checks nothing."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: value   \nlong: " + "x" * 130 + "\nkey: twice\n")
    result = run([sys.executable, "-m", "yamllint", "-c", ".yamllint", "-s", str(bad)])
    assert result.returncode != 0
    for rule in ("trailing-spaces", "line-length", "key-duplicates"):
        assert rule in result.stdout, result.stdout


def kubernetes_validate(files: list[Path], version: str) -> subprocess.CompletedProcess[str]:
    binary = BIN / "kubernetes-validate"
    assert binary.exists(), f"{binary} is missing: pip install -e '.[dev]'"
    return run([str(binary), "--strict", "--kubernetes-version", version, *map(str, files)])


def latest_schema_version() -> str:
    from kubernetes_validate import utils

    return utils.latest_version()


@pytest.mark.parametrize("version", [K8S_MIN_VERSION, "latest"])
def test_kubernetes_validate_strict(version: str, k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
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


def test_manifest_files_one_per_concern(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert {path.stem for path in manifest_files()} == set(MANIFESTS)
    assert ("Namespace", NAMESPACE) in k8s
    for (kind, name), doc in k8s.items():
        if kind != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, f"{kind}/{name} is not in {NAMESPACE}"


def test_configmap_holds_the_settings_the_services_read(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    data = config_data(k8s)
    assert set(CONFIG_KEYS) <= set(data), set(CONFIG_KEYS) - set(data)
    assert all(isinstance(value, str) for value in data.values()), "ConfigMap values must be strings"
    assert data["AMQP_URL"] == "amqp://guest:guest@rabbitmq:5672/"
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
    assert (settings.port, settings.query_port, settings.hooks_port) == (8080, 8081, 8082)
    assert settings.host == "0.0.0.0" and settings.auth_required and settings.shards == 8
    assert settings.ingest_port == 8083 and settings.log_format == "json"
    assert settings.housekeeping_interval > 0 and settings.heartbeat_watch_interval > 0, "the schedules are on"


def test_deployments_probes_resources_and_config(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
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


def test_probe_routes_match_each_service(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
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


def test_probes_and_scrapes_use_routes_each_service_serves(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    for name, deployment in deployments(k8s).items():
        routes = app_routes(name)
        box = container(deployment)
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(box["ports"][0]["containerPort"]), name
        paths = {annotations["prometheus.io/path"], box["readinessProbe"]["httpGet"]["path"],
                 box["livenessProbe"]["httpGet"]["path"]}
        assert paths <= routes, (name, paths - routes)


def test_services_route_to_the_http_deployments(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
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


def test_hpas_target_existing_deployments(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
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


def test_pdbs_cover_gateway_and_ingest_without_blocking_drains(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
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


# --- docker-compose.yml: what it must mean ----------------------------------------------------------------


def test_compose_services_share_one_build(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"rabbitmq", "mongodb", *APP_SERVICES}
    builds = {name: services[name]["build"] for name in APP_SERVICES}
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len({repr(sorted(build.items())) for build in builds.values()}) == 1, builds
    assert len(images) == 1, images
    build = builds["gateway"]
    assert Path(build["context"]).resolve() == ROOT
    assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")).is_file()
    for name in APP_SERVICES:
        assert services[name]["command"] == ["alertbus", name]


def test_compose_ingest_scales_and_only_gateway_is_published(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["ingest"]["deploy"]["replicas"] >= 2
    assert "container_name" not in services["ingest"], "a fixed container name forbids replicas"
    assert [port["published"] for port in services["gateway"]["ports"]] in ([8080], ["8080"])
    for name in ("query", "hooks", "ingest", "mongodb"):
        assert not services[name].get("ports"), f"{name} must not be published"


def test_compose_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in (*APP_SERVICES, "rabbitmq", "mongodb"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        for needed in ("rabbitmq", "mongodb"):
            assert depends[needed]["condition"] == "service_healthy", name
    assert services["gateway"]["depends_on"]["query"]["condition"] == "service_healthy"
    assert services["rabbitmq"]["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    mongo_check = services["mongodb"]["healthcheck"]["test"]
    assert services["mongodb"]["image"] == "mongo:7" and "mongosh" in mongo_check and "ping" in mongo_check[-1]
    for name in APP_SERVICES:
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD"
        compile(python_one_liner(test[1:]), f"{name}-healthcheck", "exec")
    for name, port in (("gateway", "PORT"), ("query", "QUERY_PORT"), ("hooks", "HOOKS_PORT"),
                       ("ingest", "INGEST_PORT")):
        check = services[name]["healthcheck"]["test"][-1]
        assert "/management/gtg" in check and f"'{port}'" in check, f"{name}: {check}"


def test_compose_rabbitmq_plugin_and_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in services["rabbitmq"]["volumes"]}
    plugins = Path(mounts["/etc/rabbitmq/enabled_plugins"])
    assert plugins.resolve() == (DEPLOY / "compose" / "enabled_plugins").resolve()
    listed = re.fullmatch(r"\s*\[([a-z0-9_,\s]*)\]\.\s*", plugins.read_text())
    assert listed, "enabled_plugins must be an Erlang list term ending with a period"
    names = {name.strip() for name in listed.group(1).split(",")}
    assert {"rabbitmq_consistent_hash_exchange", "rabbitmq_management"} <= names
    assert services["rabbitmq"].get("hostname") == "rabbitmq", "RabbitMQ's data dir depends on its node name"
    assert mounts["/var/lib/rabbitmq"] in compose["volumes"]
    mongo_mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in services["mongodb"]["volumes"]}
    assert mongo_mounts["/data/db"] in compose["volumes"]


def test_compose_environment_is_valid_for_every_service(compose: dict[str, Any]) -> None:
    k8s_config = config_data(load_manifests())
    for name in APP_SERVICES:
        env = {key: str(value) for key, value in compose["services"][name]["environment"].items()}
        assert set(CONFIG_KEYS) | {"ADMIN_KEY"} <= set(env), name
        settings = Settings.from_env(env)
        assert settings.host == "0.0.0.0"
        assert (settings.port, settings.query_port, settings.hooks_port) == (8080, 8081, 8082)
        assert settings.ingest_port == 8083 and settings.log_format == "json"
        assert urlsplit(settings.amqp_url).hostname == "rabbitmq"
        assert urlsplit(settings.database_url).hostname == "mongodb"
        assert urlsplit(settings.query_url).hostname == "query"
        assert env["INGEST_SHARDS"] == k8s_config["INGEST_SHARDS"], "one shard count everywhere"


# --- Dockerfile -------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_builds_one_non_root_image(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    steps = dockerfile_instructions()
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases), bases
    assert any(op == "RUN" and "pip install ." in args for op, args in steps)
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]
    users = [args for op, args in final if op == "USER"]
    assert users, "the runtime stage must switch to a non-root user"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric non-root UID lets runAsNonRoot verify it"
    for deployment in deployments(k8s).values():
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)
    cmds = [args for op, args in final if op == "CMD"]
    assert cmds and cmds[-1].replace(" ", "") == '["alertbus","gateway"]', "exec-form CMD, gateway by default"


def test_dockerfile_copies_what_pip_install_needs() -> None:
    ignored = {
        line.strip().rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = []
    for op, args in dockerfile_instructions():
        if op == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            copied += sources
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert source not in ignored, f"COPY {source} is excluded by .dockerignore"
    # Every package setuptools will install (pyproject: include shared*, services*) is in the build context.
    assert {"pyproject.toml", "shared", "services"} <= set(copied)
    assert {".git", ".venv", "tests"} <= ignored


# --- who may reach what -----------------------------------------------------------------------------------


def test_compose_needs_the_service_secret() -> None:
    env = {key: value for key, value in os.environ.items() if key != "SERVICE_SECRET"}
    result = run([docker_compose(), "-f", "docker-compose.yml", "config", "-q"], env=env)
    assert result.returncode != 0 and "SERVICE_SECRET" in result.stderr


def test_network_policies_expose_only_the_gateway(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
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
