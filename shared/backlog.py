"""Backpressure: a bound on the ingest queues' backlog, applied by the services that publish what clients send
(the gateway, the hooks service).

With the store down, or the workers slower than a flood, the shard queues grow. Unbounded, they would grow until
RabbitMQ's memory or disk alarm blocks every publisher of the node — the gateway would then hang on each publish
until ``RPC_TIMEOUT`` and answer late errors to everyone. Instead, each publishing service reads the number of
messages waiting in the shard queues every ``POLL`` seconds (one passive declare per queue, which answers the
queue's ready count) and, while it is at ``MAX_BACKLOG`` or beyond, refuses new writes at once with 503 and
``Retry-After``: nothing refused was published, and everything accepted before is still queued and is stored
when the workers can. Reads and health checks do not publish, so they keep answering.

The bound is approximate by design: between two polls every replica keeps accepting, so the backlog can pass the
bound by what the replicas accept in ``POLL`` seconds. A count that cannot be read (the broker unreachable) keeps
the last one: publishing then fails on its own, with its own 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aio_pika
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection

from .broker import Names, RpcClient, connect
from .metrics import Metrics
from .settings import Settings
from .tasks import cancel_and_wait

log = logging.getLogger("alertbus.backlog")
POLL = 1.0  # seconds between two readings of the queues
RETRY_AFTER = 5  # seconds a refused client is told to wait


class Backlogged(RuntimeError):
    """A write refused because the ingest queues hold ``MAX_BACKLOG`` messages or more (503 with Retry-After)."""

    retry_after = RETRY_AFTER


class Backlog:
    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.limit = settings.max_backlog
        self.queues = [Names.from_settings(settings).shard(index) for index in range(settings.shards)]
        self.metrics = metrics
        self.size = 0  # messages waiting in the shard queues, as last read
        self.task: asyncio.Task[None] | None = None
        self.channel: AbstractRobustChannel | None = None

    def check(self, kind: str) -> None:
        """Raise ``Backlogged`` while the backlog is at the bound (never with ``MAX_BACKLOG=0``)."""
        if self.limit and self.size >= self.limit:
            if self.metrics is not None:
                self.metrics.backlog_refused.labels(kind).inc()
            raise Backlogged(f"alertbus is {self.size} messages behind (MAX_BACKLOG is {self.limit}): the {kind} was "
                             f"not accepted; try again in {RETRY_AFTER} s")

    def start(self, connection: AbstractRobustConnection) -> None:
        if self.limit:
            self.task = asyncio.create_task(self._watch(connection), name="backlog")

    async def stop(self) -> None:
        if self.task is not None:
            # Cancelled again until it ends (shared/tasks.py): a cancel can still be lost inside the client
            # library's own waits on Python 3.11, and a lost one kept the gateway's shutdown waiting for ever.
            await cancel_and_wait([self.task], patience=1.0, grace=5.0)
        if self.channel is not None and not self.channel.is_closed:
            with contextlib.suppress(aio_pika.exceptions.AMQPError, RuntimeError):
                await self.channel.close()

    async def read(self, connection: AbstractRobustConnection) -> int:
        """The messages ready in the shard queues now (a queue not declared yet counts 0)."""
        total = 0
        for name in self.queues:
            if self.channel is None or self.channel.is_closed:
                self.channel = await connection.channel()
            try:
                # Not robust: a robust channel answers a passive declare of a queue it knows from its cache.
                queue = await self.channel.declare_queue(name, passive=True, robust=False)
            except aio_pika.exceptions.ChannelClosed:  # not declared yet: a passive declare closes the channel
                self.channel = None
                continue
            total += queue.declaration_result.message_count or 0
        return total

    async def _watch(self, connection: AbstractRobustConnection) -> None:
        while True:
            try:
                async with asyncio.timeout(5 * POLL):  # not wait_for: it swallowed stop()'s cancel (pyproject.toml)
                    size = await self.read(connection)
            except (TimeoutError, aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
                log.debug("the backlog could not be read: %r", exc)
            else:
                if (size >= self.limit) != (self.size >= self.limit):
                    log.warning("ingest backlog %d messages: writes are %s (MAX_BACKLOG %d)", size,
                                "refused" if size >= self.limit else "accepted again", self.limit)
                self.size = size
                if self.metrics is not None:
                    self.metrics.backlog.set(size)
            await asyncio.sleep(POLL)


@asynccontextmanager
async def publisher(settings: Settings, metrics: Metrics, service: str) -> AsyncIterator[RpcClient]:
    """The RPC client of a service that publishes what its clients send (the gateway, the hooks service): on a
    connection of its own, with the backlog bound applied to every alert, heartbeat and command."""
    connection = await connect(settings, service=service)
    try:
        backlog = Backlog(settings, metrics)
        rpc = RpcClient(connection, settings, metrics, backlog)
        await rpc.start()
        backlog.start(connection)
        try:
            yield rpc
        finally:
            await backlog.stop()
    finally:
        await connection.close()
