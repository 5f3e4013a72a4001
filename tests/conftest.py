"""Real infrastructure for the tests: a SecantusDB server process (MongoDB wire protocol), the RabbitMQ
at AMQP_URL (namespaced by a per-session BROKER_PREFIX), and the services started from their factories on
real ports. Tests talk HTTP to the gateway and AMQP to the broker; nothing is mocked."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from services import gateway, hooks, ingest, query
from services.embedded import EmbeddedStore, free_port
from shared.broker import Names
from shared.http import SERVER_OPTIONS
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import Store, open_store

ADMIN_KEY = "test-admin-key-" + uuid.uuid4().hex
SERVICE_SECRET = "test-service-secret-" + uuid.uuid4().hex


@dataclass
class Stack:
    settings: Settings
    url: str
    metrics: Metrics
    session: aiohttp.ClientSession
    store: Store
    connection: aio_pika.abc.AbstractRobustConnection
    runners: list[web.AppRunner]
    workers: list[ingest.Worker]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Key {ADMIN_KEY}"}

    async def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                      headers: dict[str, str] | None = None, auth: bool = True) -> tuple[int, Any]:
        all_headers = {**(self.auth if auth else {}), **(headers or {})}
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self.session.request(method, self.url + path, headers=all_headers, **kwargs) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text) if text else None
            except ValueError:
                return resp.status, text

    async def post_alert(self, alert: dict[str, Any], **kwargs: Any) -> tuple[int, Any]:
        return await self.request("POST", "/alert", alert, **kwargs)

    async def start_worker(self) -> ingest.Worker:
        worker = ingest.create_worker(self.settings, self.metrics)
        await worker.start()
        self.workers.append(worker)
        return worker


@pytest_asyncio.fixture(scope="session")
async def store_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    embedded = EmbeddedStore(str(tmp_path_factory.mktemp("store")))
    url = await embedded.start()
    yield url.replace("/alertbus?", f"/test_{uuid.uuid4().hex[:8]}?")
    embedded.stop()


def make_settings(store_url: str, **overrides: Any) -> Settings:
    port = free_port()
    env = {
        "AMQP_URL": os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
        "BROKER_PREFIX": f"test-{uuid.uuid4().hex[:8]}.",
        "DATABASE_URL": store_url,
        "PORT": str(port),
        "QUERY_PORT": str(free_port()),
        "HOOKS_PORT": str(free_port()),
        "ADMIN_KEY": ADMIN_KEY,
        "SERVICE_SECRET": SERVICE_SECRET,
        "INGEST_SHARDS": "4",
        "RPC_TIMEOUT": "20",
        "MAX_DELIVERIES": "3",
        "LOG_LEVEL": "WARNING",
    }
    env.update({key: str(value) for key, value in overrides.items()})
    return Settings.from_env(env)


async def _serve(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, **SERVER_OPTIONS)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def delete_topology(connection: aio_pika.abc.AbstractRobustConnection, settings: Settings) -> None:
    names = Names.from_settings(settings)
    channel = await connection.channel()
    for index in range(settings.shards):
        await channel.queue_delete(names.shard(index))
    await channel.queue_delete(names.dead)
    await channel.queue_delete(names.workers)
    await channel.exchange_delete(names.ingest)
    await channel.exchange_delete(names.dlx)
    await channel.exchange_delete(names.events)
    await channel.close()


@pytest_asyncio.fixture(scope="session")
async def stack(store_url: str) -> AsyncIterator[Stack]:
    settings = make_settings(store_url)
    metrics = Metrics()
    connection = await aio_pika.connect_robust(settings.amqp_url)
    async with open_store(settings.database_url) as store, aiohttp.ClientSession() as session:
        worker = ingest.create_worker(settings, metrics)
        await worker.start()
        runners = [
            await _serve(query.create_app(settings, metrics), settings.query_port),
            await _serve(hooks.create_app(settings, metrics), settings.hooks_port),
            await _serve(gateway.create_app(settings, metrics), settings.port),
        ]
        s = Stack(settings, f"http://127.0.0.1:{settings.port}", metrics, session, store, connection,
                  runners, [worker])
        yield s
        for runner in reversed(s.runners):
            await runner.cleanup()
        for w in s.workers:
            await w.stop(grace=2)
    await delete_topology(connection, settings)
    await connection.close()


@pytest.fixture
def cli_env(stack: Stack, tmp_path: Path) -> dict[str, str]:
    """The client's environment: endpoint and key from variables, an empty config file of its own, and no
    TERM or PS1 (with either set and stdin not a terminal, some commands read stdin)."""
    config = tmp_path / "alerta.conf"
    config.write_text("[DEFAULT]\ntimezone = UTC\n")
    env = {key: value for key, value in os.environ.items() if key not in ("TERM", "PS1")}
    env.update(ALERTA_CONF_FILE=str(config), ALERTA_ENDPOINT=stack.url, ALERTA_API_KEY=ADMIN_KEY)
    return env


def unique(prefix: str = "res") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def alert(resource: str, event: str = "NodeDown", severity: str = "major", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource": resource, "event": event, "environment": "Production", "severity": severity,
        "service": ["Network"], "text": f"{event} on {resource}", "value": "1",
    }
    body.update(extra)
    return body


async def eventually(check: Any, timeout: float = 15.0, interval: float = 0.1) -> Any:
    """Poll an async predicate until it returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@pytest.fixture(autouse=True)
def fresh_auth_throttle(request: pytest.FixtureRequest) -> None:
    """Every test's requests come from 127.0.0.1: one test's failed authentications must not throttle the next
    test's (see services/gateway/throttle.py)."""
    if "stack" in request.fixturenames:
        stack: Stack = request.getfixturevalue("stack")
        for runner in stack.runners:
            if gateway.keys.THROTTLE in runner.app:
                runner.app[gateway.keys.THROTTLE].buckets.clear()
