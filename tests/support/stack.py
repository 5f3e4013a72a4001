"""The services in the test process, each from its factory on a real port, against the real RabbitMQ and store:
``start_stack`` builds a ``Stack`` in a namespace of its own and takes it all down again. Tests talk HTTP to the
gateway and AMQP to the broker; nothing is mocked."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
from aiohttp import web
from pymongo.errors import ConnectionFailure

from services import gateway, hooks, ingest, query
from services.embedded import EmbeddedStore
from shared.http import SERVER_OPTIONS
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import Store, open_store

from .namespace import delete_topology, make_settings, other_database


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
        return {"Authorization": f"Key {self.settings.admin_key}"}

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

    async def start_worker(self, *, schedules: bool = False) -> ingest.Worker:
        """One more ingest worker (stopped with the stack)."""
        worker = ingest.create_worker(self.settings, self.metrics, schedules=schedules)
        await worker.start()
        self.workers.append(worker)
        return worker

    async def stop(self) -> None:
        """The HTTP services (the gateway first), then the workers."""
        while self.runners:
            await self.runners.pop().cleanup()
        while self.workers:
            await self.workers.pop().stop(grace=2)


async def serve(app: web.Application, port: int) -> web.AppRunner:
    """``app`` on 127.0.0.1:``port`` with the production server options; the caller cleans the runner up."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, **SERVER_OPTIONS)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@asynccontextmanager
async def serving(app: web.Application, port: int) -> AsyncIterator[str]:
    """``app`` served on 127.0.0.1:``port`` while the block runs; yields its base URL."""
    runner = await serve(app, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def start_stack(store_url: str, *, own_database: bool = True, with_hooks: bool = False,
                      schedules: bool = False, **overrides: object) -> AsyncIterator[Stack]:
    """An ingest worker, the query service and the gateway (and the hooks service ``with_hooks``) on real ports,
    sharing one ``Metrics``, in a fresh broker namespace (``make_settings``, then ``overrides``); the worker
    runs the schedules (housekeeping, heartbeat watch) only if asked.

    With ``own_database`` (the default) the stack works on a database of its own on the server of
    ``store_url`` and drops it when done; else on ``store_url``'s database, which it leaves as it is."""
    database_url = other_database(store_url) if own_database else store_url
    settings = make_settings(database_url, **overrides)
    metrics = Metrics()
    connection = await aio_pika.connect_robust(settings.amqp_url)
    try:
        async with open_store(settings.database_url) as store, aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{settings.gateway.port}"
            stack = Stack(settings, url, metrics, session, store, connection, [], [])
            try:
                await stack.start_worker(schedules=schedules)
                # Query (and hooks) first: the gateway forwards to them.
                stack.runners.append(await serve(query.create_app(settings, metrics), settings.query.port))
                if with_hooks:
                    stack.runners.append(await serve(hooks.create_app(settings, metrics), settings.hooks.port))
                stack.runners.append(await serve(gateway.create_app(settings, metrics), settings.gateway.port))
                yield stack
            finally:
                await stack.stop()
                if own_database:
                    await drop_database(store)
    finally:
        await delete_topology(settings)
        await connection.close()


async def drop_database(store: Store) -> None:
    """Drop the store's database. A test may have restarted the store server (the outage tests): the first use
    of a connection pooled before that fails once, the next gets a fresh one."""
    for attempt in range(3):
        try:
            await store.client.drop_database(store.db.name)
            return
        except ConnectionFailure:
            if attempt == 2:
                raise
            await asyncio.sleep(0.5)


@asynccontextmanager
async def own_store(store_url: str) -> AsyncIterator[Store]:
    """A database of its own on the server of ``store_url``, opened with its indexes; dropped when done."""
    async with open_store(other_database(store_url)) as store:
        try:
            yield store
        finally:
            await drop_database(store)


@asynccontextmanager
async def session_database(directory: Path) -> AsyncIterator[str]:
    """The database of a test session: on the server at ``TEST_DATABASE_URL`` if that is set, else on a store
    process of its own with its data under ``directory``."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    embedded = EmbeddedStore(str(directory))
    url = await embedded.start()
    try:
        yield url.replace("/alertbus?", f"/test_{uuid.uuid4().hex[:8]}?")
    finally:
        embedded.stop()
