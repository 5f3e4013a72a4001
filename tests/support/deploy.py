"""The deployment artefacts as the deploy tests read them (Dockerfile, docker-compose.yml, the Kubernetes manifests
under deploy/): where they are, what the services expect of them, and the validators' command lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

Manifests = dict[tuple[str, str], dict[str, Any]]  # (kind, name) -> the resource

ROOT = Path(__file__).resolve().parents[2]  # the repository
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


def load_manifests() -> Manifests:
    resources: Manifests = {}
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                key = (doc["kind"], doc["metadata"]["name"])
                assert key not in resources, f"{key} is defined twice"
                resources[key] = doc
    return resources



def deployments(k8s: Manifests) -> dict[str, dict[str, Any]]:
    return {name: doc for (kind, name), doc in k8s.items() if kind == "Deployment"}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def config_data(k8s: Manifests) -> dict[str, str]:
    return k8s[("ConfigMap", "alertbus-config")]["data"]


def python_one_liner(command: list[str]) -> str:
    assert command[:2] == ["python", "-c"] and len(command) == 3, command
    return command[2]


def load_compose() -> dict[str, Any]:
    """The Compose file as docker-compose resolves it (anchors merged, variables interpolated)."""
    result = run([docker_compose(), "-f", str(COMPOSE), "config"])
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))
