"""Connecting to the store: the client as every service configures it, and ``open_store``, the ``Store`` of one
database for the life of a context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.uri_parser import parse_uri

from ..metrics import Metrics
from .core import Store


def database_name(url: str) -> str:
    return parse_uri(url).get("database") or "alertbus"


def make_client(url: str, timeout_ms: int = 5000) -> AsyncMongoClient[dict[str, Any]]:
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


@asynccontextmanager
async def open_store(url: str, *, indexes: bool = True, metrics: Metrics | None = None) -> AsyncIterator[Store]:
    client = make_client(url)
    try:
        store = Store(client, database_name(url), metrics)
        if indexes:
            await store.ensure_indexes()
        yield store
    finally:
        await client.close()
