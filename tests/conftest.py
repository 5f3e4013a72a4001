"""The fixtures of the test session: the store (a SecantusDB server process speaking the MongoDB wire protocol),
the session's stack of services on real ports against the RabbitMQ at ``AMQP_URL`` (namespaced by its own
``BROKER_PREFIX``), the ``alerta`` client's environment, and the deployment files as parsed. How stacks are
built is tests/support; fixtures only declare what a test gets, and each one cleans up after itself."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services import gateway

from .support import ADMIN_KEY, Stack, session_database, start_stack
from .support.deploy import Manifests, load_compose, load_manifests

# The console's browser fixtures (browser, console, close_pages): named by the browser tests, started by them only.
pytest_plugins = ("tests.support.browser", "tests.support.tenants")


@pytest_asyncio.fixture(scope="session")
async def store_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The session's database (tests/support/stack.py: ``session_database``)."""
    async with session_database(tmp_path_factory.mktemp("store")) as url:
        yield url


@pytest_asyncio.fixture(scope="session")
async def stack(store_url: str) -> AsyncIterator[Stack]:
    """Every service, on the session's database (which it leaves in place)."""
    async with start_stack(store_url, own_database=False, with_hooks=True) as s:
        yield s


@pytest.fixture
def cli_env(stack: Stack, tmp_path: Path) -> dict[str, str]:
    """The client's environment: endpoint and key from variables, an empty config file of its own, and no
    TERM or PS1 (with either set and stdin not a terminal, some commands read stdin)."""
    config = tmp_path / "alerta.conf"
    config.write_text("[DEFAULT]\ntimezone = UTC\n")
    env = {key: value for key, value in os.environ.items() if key not in ("TERM", "PS1")}
    env.update(ALERTA_CONF_FILE=str(config), ALERTA_ENDPOINT=stack.url, ALERTA_API_KEY=ADMIN_KEY)
    return env


@pytest.fixture(autouse=True)
def fresh_auth_throttle(request: pytest.FixtureRequest) -> None:
    """Every test's requests come from 127.0.0.1: one test's failed authentications must not throttle the next
    test's (see services/gateway/throttle.py)."""
    if "stack" in request.fixturenames:
        stack: Stack = request.getfixturevalue("stack")
        for runner in stack.runners:
            if gateway.keys.THROTTLE in runner.app:
                runner.app[gateway.keys.THROTTLE].buckets.clear()


@pytest.fixture(scope="module")
def k8s() -> Manifests:
    """The Kubernetes manifests under deploy/, by (kind, name)."""
    return load_manifests()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yml as docker-compose resolves it."""
    return load_compose()
