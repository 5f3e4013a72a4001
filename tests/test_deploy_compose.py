"""docker-compose.yml, validated without a Docker daemon: ``docker-compose config`` accepts it (and refuses it
without a SERVICE_SECRET), and what it must mean (one build for every service, scaling, health, volumes, the
environment every service reads)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shared.settings import Settings

from .support.deploy import (
    APP_SERVICES,
    CONFIG_KEYS,
    DEPLOY,
    ROOT,
    config_data,
    docker_compose,
    load_manifests,
    python_one_liner,
    run,
)


def test_docker_compose_config_is_valid() -> None:
    result = run([docker_compose(), "-f", "docker-compose.yml", "config", "-q"])
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr


def test_compose_needs_the_service_secret() -> None:
    env = {key: value for key, value in os.environ.items() if key != "SERVICE_SECRET"}
    result = run([docker_compose(), "-f", "docker-compose.yml", "config", "-q"], env=env)
    assert result.returncode != 0 and "SERVICE_SECRET" in result.stderr



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
        assert (settings.gateway.port, settings.query.port, settings.hooks.port) == (8080, 8081, 8082)
        assert settings.ingest.port == 8083 and settings.log_format == "json"
        assert urlsplit(settings.amqp_url).hostname == "rabbitmq"
        assert urlsplit(settings.database_url).hostname == "mongodb"
        assert urlsplit(settings.gateway.query_url).hostname == "query"
        assert env["INGEST_SHARDS"] == k8s_config["INGEST_SHARDS"], "one shard count everywhere"
