"""docker-compose.yml, validated without a Docker daemon: ``docker-compose config`` accepts it with its secrets
from an env file (and refuses it without any one of them), and what it must mean (one build for every service,
scaling, health, volumes, MongoDB and RabbitMQ with users of their own, the environment every service reads)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.settings import HooksSettings, Settings
from shared.vouching import vouched_user

from .support.deploy import (
    APP_SERVICES,
    COMPOSE_TEST_VALUES,
    COMPOSE_VARIABLES,
    CONFIG_KEYS,
    DEPLOY,
    ENV_EXAMPLE,
    REQUIRED_SECRETS,
    ROOT,
    compose_config,
    config_data,
    load_manifests,
    python_one_liner,
    render_compose,
)

ONLY_SECRETS = {name: COMPOSE_TEST_VALUES[name] for name in REQUIRED_SECRETS}


def test_docker_compose_config_is_valid() -> None:
    result = compose_config(COMPOSE_TEST_VALUES, None, "-q")
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr


@pytest.mark.parametrize("secret", REQUIRED_SECRETS)
@pytest.mark.parametrize("how", ["missing", "empty"])
def test_compose_refuses_to_start_without_each_secret(secret: str, how: str) -> None:
    values = {name: value for name, value in ONLY_SECRETS.items() if name != secret}
    if how == "empty":
        values[secret] = ""
    result = compose_config(values, None, "-q")
    assert result.returncode != 0 and f"set {secret}" in result.stderr, result.stderr


def test_the_env_example_lists_every_variable_and_is_not_deployable_as_it_is() -> None:
    listed = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                  if line.strip() and not line.startswith("#"))
    assert set(listed) == COMPOSE_VARIABLES
    assert all(listed[name] == "" for name in REQUIRED_SECRETS), "no secret may be committed"
    result = compose_config(env_file=ENV_EXAMPLE)
    assert result.returncode != 0 and "set " in result.stderr
    # The real env file stays out of git; the example is tracked.
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, timeout=10)
    tracked = subprocess.run(["git", "check-ignore", "-q", str(ENV_EXAMPLE)], cwd=ROOT, timeout=10)
    assert ignored.returncode == 0 and tracked.returncode == 1


def test_compose_mongodb_needs_authentication_and_alertbus_has_a_user_of_its_own(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mongo = services["mongodb"]["environment"]
    # The image enables --auth when it is given a root user.
    assert mongo["MONGO_INITDB_ROOT_USERNAME"] == "admin" and mongo["MONGO_INITDB_ROOT_PASSWORD"] == "r00tpw"
    assert (mongo["ALERTBUS_MONGODB_USER"], mongo["ALERTBUS_MONGODB_PASSWORD"]) == ("alertbus-app", "apppw")
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in services["mongodb"]["volumes"]}
    init = Path(mounts["/docker-entrypoint-initdb.d/alertbus-user.js"])
    assert init.resolve() == (DEPLOY / "compose" / "mongo-init.js").resolve()
    script = init.read_text()
    assert 'getSiblingDB("admin").createUser(' in script and 'role: "readWrite"' in script
    assert all(f"env.{name}" in script for name in mongo if name.startswith("ALERTBUS_"))
    for name in APP_SERVICES:
        url = urlsplit(services[name]["environment"]["DATABASE_URL"])
        assert (url.hostname, url.port, url.path) == ("mongodb", 27017, "/alertbus"), name
        assert (url.username, url.password) == ("alertbus-app", "apppw"), "the application's user, never root"
        assert parse_qs(url.query)["authSource"] == ["admin"], name  # where mongo-init.js creates the user
        assert mongo["ALERTBUS_MONGODB_DATABASE"] == url.path.lstrip("/")


def test_compose_rabbitmq_has_its_own_user_not_guest(compose: dict[str, Any]) -> None:
    services = compose["services"]
    rabbit = services["rabbitmq"]["environment"]
    assert (rabbit["RABBITMQ_DEFAULT_USER"], rabbit["RABBITMQ_DEFAULT_PASS"]) == ("alertbus-mq", "mqpw")
    for name in APP_SERVICES:
        url = urlsplit(services[name]["environment"]["AMQP_URL"])
        assert (url.hostname, url.port) == ("rabbitmq", 5672), name
        assert (url.username, url.password) == ("alertbus-mq", "mqpw"), name


def test_compose_services_validate_once_as_their_broker_user(compose: dict[str, Any]) -> None:
    """GATEWAY_BROKER_USER is the user of AMQP_URL, whatever RABBITMQ_USER is: validated messages go out vouched."""
    for values, user in ((COMPOSE_TEST_VALUES, "alertbus-mq"), (ONLY_SECRETS, "alertbus")):
        services = compose["services"] if values is COMPOSE_TEST_VALUES else render_compose(values)["services"]
        for name in APP_SERVICES:
            settings = Settings.from_env({key: str(value) for key, value in services[name]["environment"].items()})
            assert settings.gateway_broker_user == user and vouched_user(settings) == user, name


def test_compose_users_default_and_no_guest_anywhere() -> None:
    rendered = render_compose(ONLY_SECRETS)
    services = rendered["services"]
    assert services["rabbitmq"]["environment"]["RABBITMQ_DEFAULT_USER"] == "alertbus"
    assert services["mongodb"]["environment"]["MONGO_INITDB_ROOT_USERNAME"] == "root"
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert urlsplit(env["AMQP_URL"]).username == "alertbus" and urlsplit(env["DATABASE_URL"]).username == "alertbus"
        settings = Settings.from_env({key: str(value) for key, value in env.items()})
        hooks = settings.hooks
        assert hooks.pagerduty_routing_key == "" and hooks.pagerduty_events_url == HooksSettings.pagerduty_events_url
        assert (hooks.pagerduty_max_attempts, hooks.pagerduty_replay_window) == (5, 600)
    assert "guest" not in repr(rendered)  # no user, password or URL of the default account


def test_compose_passes_the_pagerduty_settings_through(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        env = {key: str(value) for key, value in compose["services"][name]["environment"].items()}
        assert {key: env[key] for key in COMPOSE_TEST_VALUES if key.startswith("PAGERDUTY_")} == \
            {key: value for key, value in COMPOSE_TEST_VALUES.items() if key.startswith("PAGERDUTY_")}, name
        settings = Settings.from_env(env)
        assert settings.hooks.pagerduty_routing_key == "R0UTINGKEY0123456789"
        assert settings.hooks.pagerduty_webhook_secret == "whsec"
        assert settings.hooks.pagerduty_events_url == "https://events.example.com/v2/enqueue"
        assert len(settings.hooks.pagerduty_filter) == 1
        assert (settings.hooks.pagerduty_max_attempts, settings.hooks.pagerduty_retry_delay_ms,
                settings.hooks.pagerduty_replay_window) == (7, 250, 900)



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
    assert services["mongodb"]["image"] == "mongo:8" and "mongosh" in mongo_check and "ping" in mongo_check[-1]
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
