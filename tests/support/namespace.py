"""A namespace of one's own on shared infrastructure: the RabbitMQ at ``AMQP_URL`` and a store server are shared
with other stacks (and other people's test runs), so a stack keeps to its own ``BROKER_PREFIX``, database, keys
and ports, and deletes its queues and exchanges when done. The same for the in-process test stacks, the
benchmark's and the fault-injection tests' stacks of separate processes."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika

from services.embedded import free_port
from shared.broker import Names
from shared.settings import Settings

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
# The keys of the test session's in-process stacks (the stacks of separate processes make their own).
ADMIN_KEY = "test-admin-key-" + uuid.uuid4().hex
SERVICE_SECRET = "test-service-secret-" + uuid.uuid4().hex
# What the in-process test stacks run with unless a test says otherwise: few shards and deliveries, so that
# redelivery and dead-lettering show quickly; a reply wait long enough for a busy test machine.
TEST_ENV = {"INGEST_SHARDS": "4", "RPC_TIMEOUT": "20", "MAX_DELIVERIES": "3", "LOG_LEVEL": "WARNING"}


@dataclass(frozen=True)
class Namespace:
    """The environment that sets one stack apart: a broker prefix, a database, its keys and free ports."""

    prefix: str
    database_url: str
    admin_key: str = ADMIN_KEY
    service_secret: str = SERVICE_SECRET
    amqp_url: str = AMQP_URL
    port: int = field(default_factory=free_port)
    query_port: int = field(default_factory=free_port)
    hooks_port: int = field(default_factory=free_port)

    @classmethod
    def fresh(cls, kind: str, database_url: str, **fields: Any) -> Namespace:
        """A new namespace whose broker prefix starts with ``kind`` (``test``, ``bench``, ``chaos``)."""
        return cls(f"{kind}-{secrets.token_hex(4)}.", database_url, **fields)

    @property
    def url(self) -> str:
        """The gateway's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def env(self, **overrides: object) -> dict[str, str]:
        """The variables the services read for this namespace, then ``overrides`` (names as in the README)."""
        env = {
            "AMQP_URL": self.amqp_url,
            "BROKER_PREFIX": self.prefix,
            "DATABASE_URL": self.database_url,
            "PORT": str(self.port),
            "QUERY_PORT": str(self.query_port),
            "HOOKS_PORT": str(self.hooks_port),
            "ADMIN_KEY": self.admin_key,
            "SERVICE_SECRET": self.service_secret,
        }
        env.update({name: str(value) for name, value in overrides.items()})
        return env

    def settings(self, **overrides: object) -> Settings:
        return Settings.from_env(self.env(**overrides))


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Settings of a fresh test namespace on ``database_url`` (``TEST_ENV``, then ``overrides``)."""
    return Namespace.fresh("test", database_url).settings(**{**TEST_ENV, **overrides})


def other_database(url: str) -> str:
    """The same store server, a database of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/ops_{uuid.uuid4().hex[:8]}"))


async def delete_topology(settings: Settings, *, queues: Iterable[str] = (), exchanges: Iterable[str] = ()) -> int:
    """Delete the queues and exchanges of the namespace of ``settings`` (every one its services declare, whether
    they did or not), and ``queues`` and ``exchanges`` besides; returns how many deletes the broker confirmed."""
    names = Names.from_settings(settings)
    all_queues = [names.shard(index) for index in range(settings.shards)]
    all_queues += [names.dead, names.workers, names.housekeeping, names.pagerduty, names.pagerduty_retry, *queues]
    all_exchanges = [names.ingest, names.dlx, names.events, *exchanges]
    deleted = 0
    connection = await aio_pika.connect_robust(settings.amqp_url, timeout=10)
    async with connection:
        for kind, name in [("queue", q) for q in dict.fromkeys(all_queues)] + \
                          [("exchange", e) for e in dict.fromkeys(all_exchanges)]:
            # A failed delete closes its channel: one channel each.
            channel = await connection.channel()
            try:
                if kind == "queue":
                    await channel.queue_delete(name)
                else:
                    await channel.exchange_delete(name)
                deleted += 1
            except aio_pika.exceptions.AMQPError:
                pass
            finally:
                if not channel.is_closed:
                    await channel.close()
    return deleted


@asynccontextmanager
async def isolated_settings(database_url: str, **overrides: object) -> AsyncIterator[Settings]:
    """``make_settings`` whose namespace's queues and exchanges are deleted afterwards."""
    settings = make_settings(database_url, **overrides)
    try:
        yield settings
    finally:
        await delete_topology(settings)
