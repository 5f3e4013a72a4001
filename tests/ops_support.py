"""A small stack of its own for the operations tests: its own database (on the session's store server, or on a
store process of its own), its own broker namespace and ``Metrics``, and the schedules only where a test asks
for them — so that counters move only by what the test does, and housekeeping never touches another test's data.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from services import gateway, hooks, ingest, query
from shared.metrics import Metrics
from shared.store import open_store

from .conftest import Stack, _serve, delete_topology, make_settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def other_database(url: str) -> str:
    """The same store server, a database of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/ops_{uuid.uuid4().hex[:8]}"))


@asynccontextmanager
async def small_stack(store_url: str, *, schedules: bool = False, with_hooks: bool = False,
                      **overrides: Any) -> AsyncIterator[Stack]:
    """Worker, query service and gateway (and the hooks service) on real ports, as the session stack."""
    # It drops its database when done: never the session's (see other_database).
    assert not urlsplit(store_url).path.startswith("/test_"), "a database of its own: other_database()"
    settings = make_settings(store_url, **overrides)
    metrics = Metrics()
    connection = await aio_pika.connect_robust(settings.amqp_url)
    try:
        async with open_store(settings.database_url) as store, aiohttp.ClientSession() as session:
            worker = ingest.create_worker(settings, metrics, schedules=schedules)
            await worker.start()
            runners = [await _serve(query.create_app(settings, metrics), settings.query_port)]
            if with_hooks:
                runners.append(await _serve(hooks.create_app(settings, metrics), settings.hooks_port))
            runners.append(await _serve(gateway.create_app(settings, metrics), settings.port))
            stack = Stack(settings, f"http://127.0.0.1:{settings.port}", metrics, session, store, connection,
                          runners, [worker])
            try:
                yield stack
            finally:
                for runner in reversed(stack.runners):
                    await runner.cleanup()
                for w in stack.workers:
                    await w.stop(grace=2)
                await store.client.drop_database(store.db.name)
    finally:
        await delete_topology(connection, settings)
        await connection.close()


async def serve(app: web.Application, port: int) -> web.AppRunner:
    return await _serve(app, port)


async def scrape(session: aiohttp.ClientSession, url: str) -> Samples:
    """``/metrics`` parsed: (sample name, sorted labels) -> value."""
    async with session.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")  # the text exposition format
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)
