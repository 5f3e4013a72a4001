"""Connecting to the store: the client as every service configures it, and ``open_store``, the ``Store`` of one
database for the life of a context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError
from pymongo.uri_parser import parse_uri

from ..metrics import Metrics
from .core import Store

TIMEOUT_MS = 5000
AUTHENTICATION_FAILED = 18  # the server's error code


class StoreUnreachable(RuntimeError):
    """The store did not answer when a service started."""


def safe_url(url: str) -> str:
    """A MongoDB URI without its user name, password and options: fit for logs and error messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def database_name(url: str) -> str:
    return parse_uri(url).get("database") or "alertbus"


def make_client(url: str, timeout_ms: int = TIMEOUT_MS) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        uuidRepresentation="standard",
        # Polling, not the streaming heartbeat: SecantusDB answers the streaming heartbeat late during a long
        # read, and PyMongo then marks the server unknown and cancels the read in flight.
        serverMonitoringMode="poll",
    )


async def wait_until_answering(url: str, timeout: float, still_hopeful: Callable[[], None] = lambda: None) -> None:
    """Ping the store at ``url`` until it answers (``RuntimeError`` after ``timeout`` seconds); ``still_hopeful``
    runs before each try and raises to give up early (the embedded store's process exited)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    client = make_client(url, timeout_ms=500)
    try:
        while True:
            still_hopeful()
            try:
                await client.admin.command("ping")
                return
            except PyMongoError:
                if loop.time() > deadline:
                    raise RuntimeError(f"the store at {safe_url(url)} did not answer within {timeout:.0f}s") from None
                await asyncio.sleep(0.2)
    finally:
        await client.close()


@asynccontextmanager
async def open_store(
    url: str, *, indexes: bool = True, check: bool = True, metrics: Metrics | None = None,
) -> AsyncIterator[Store]:
    """The store at ``url``, its indexes ensured (``indexes``); ``check``: it must answer now, else
    ``StoreUnreachable`` (one line naming the store and the fix, for a service that cannot start without it)."""
    client = make_client(url)
    try:
        if check:
            try:
                await client.admin.command("ping")
            except ConnectionFailure as exc:
                raise StoreUnreachable(
                    f"the store at {safe_url(url)} did not answer within {TIMEOUT_MS // 1000}s "
                    f"({type(exc).__name__}): start it, or check the host, port and credentials in DATABASE_URL"
                ) from None
            except OperationFailure as exc:
                if exc.code != AUTHENTICATION_FAILED:
                    raise
                raise StoreUnreachable(f"the store at {safe_url(url)} refused the login (authentication failed): "
                                       f"check the user name and password in DATABASE_URL") from None
        store = Store(client, database_name(url), metrics)
        if indexes:
            await store.ensure_indexes()
        yield store
    finally:
        await client.close()
