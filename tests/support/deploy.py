"""The deployment artefacts as the deploy tests read them (Dockerfile, docker-compose.yml, the Kubernetes manifests
under deploy/): where they are, what the services expect of them, and the validators' command lines."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
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
    "AMQP_URL", "GATEWAY_BROKER_USER", "BROKER_PREFIX", "DATABASE_URL", "HOST", "PORT", "QUERY_PORT", "HOOKS_PORT",
    "QUERY_URL", "AUTH_REQUIRED", "ALLOWED_ENVIRONMENTS", "INGEST_SHARDS", "LOG_LEVEL", "LOG_FORMAT", "INGEST_PORT",
    "HOUSEKEEPING_INTERVAL", "HEARTBEAT_WATCH_INTERVAL", "DELETE_EXPIRED_AFTER", "DELETE_INFO_AFTER",
)
SERVICE_PORTS = {"gateway": 8080, "query": 8081, "hooks": 8082, "ingest": 8083}
# Oldest Kubernetes release the manifests must validate against (autoscaling/v2 and policy/v1 are GA there),
# besides the newest schema kubernetes-validate ships. Both are bundled with the package: no network needed.
K8S_MIN_VERSION = "1.30.0"


ENV_EXAMPLE = DEPLOY / "compose" / "alertbus.env.example"
# Every variable docker-compose.yml reads (``${NAME...}``), and those it refuses to start without.
COMPOSE_VARIABLES = frozenset(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
REQUIRED_SECRETS = ("SERVICE_SECRET", "MONGODB_ROOT_PASSWORD", "MONGODB_PASSWORD", "RABBITMQ_PASSWORD")
# The env file the Compose tests render with: every secret, users of their own, PagerDuty on.
COMPOSE_TEST_VALUES = {
    "SERVICE_SECRET": "compose-test-secret", "MONGODB_ROOT_USER": "admin", "MONGODB_ROOT_PASSWORD": "r00tpw",
    "MONGODB_USER": "alertbus-app", "MONGODB_PASSWORD": "apppw", "RABBITMQ_USER": "alertbus-mq",
    "RABBITMQ_PASSWORD": "mqpw", "PAGERDUTY_ROUTING_KEY": "R0UTINGKEY0123456789", "PAGERDUTY_WEBHOOK_SECRET": "whsec",
    "PAGERDUTY_EVENTS_URL": "https://events.example.com/v2/enqueue", "PAGERDUTY_FILTER": "severity=critical|major",
    "PAGERDUTY_MAX_ATTEMPTS": "7", "PAGERDUTY_RETRY_DELAY_MS": "250", "PAGERDUTY_REPLAY_WINDOW": "900",
}
# docker-compose prefers the process environment to the env file: none of its variables may come from there.
COMPOSE_ENV = {key: value for key, value in os.environ.items() if key not in COMPOSE_VARIABLES}


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
    container: dict[str, Any] = containers[0]
    return container


def config_data(k8s: Manifests) -> dict[str, str]:
    data: dict[str, str] = k8s[("ConfigMap", "alertbus-config")]["data"]
    return data


def python_one_liner(command: list[str]) -> str:
    assert command[:2] == ["python", "-c"] and len(command) == 3, command
    return command[2]


def compose_config(values: Mapping[str, str] | None = None, env_file: Path | None = None,
                   *args: str) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` with the env file ``env_file``, else one holding ``values`` (never a .env that
    happens to lie beside docker-compose.yml)."""
    with tempfile.TemporaryDirectory() as tmp:
        if env_file is None:
            env_file = Path(tmp) / "alertbus.env"
            env_file.write_text("".join(f"{key}={value}\n" for key, value in (values or {}).items()))
        return run([docker_compose(), "--env-file", str(env_file), "-f", str(COMPOSE), "config", *args])


def render_compose(values: Mapping[str, str] = COMPOSE_TEST_VALUES) -> dict[str, Any]:
    """The Compose file as docker-compose resolves it (anchors merged, variables interpolated)."""
    result = compose_config(values)
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout))


def load_compose() -> dict[str, Any]:
    """The Compose file rendered with ``COMPOSE_TEST_VALUES``."""
    return render_compose()
