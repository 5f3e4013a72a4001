"""The fault-injection stack: SecantusDB, query, N ingest workers and the gateway, each a separate OS process
(as in production: tests/support/processes.py), under a unique ``BROKER_PREFIX`` and a temporary directory; and
the broker seen from outside (``rabbitmqctl``), limited to this run's own connections and queues.

The broker is shared with other people's test runs: nothing here touches a connection, queue or exchange
whose name does not start with this run's prefix, and the shared RabbitMQ server itself is never stopped. A
fault that stops the broker itself runs the stack on a private node instead (``ChaosStack(broker=...)``,
tests/support/rabbit_node.py), which goes away with its data after the test.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess

import aio_pika
import aiohttp

from ..support.namespace import AMQP_URL
from ..support.processes import ProcessStack
from ..support.rabbit_node import RabbitNode

RPC_TIMEOUT = 5.0  # seconds POST /alert waits for the worker before it answers 202
SHARDS = 4
BOUND = 1000  # MAX_BACKLOG of the flood fault's stack


class ChaosStack(ProcessStack):
    """Two workers by default, which split the shards between them (services/ingest/shards.py: each holds its
    share, a worker that dies has its shards taken over); a plain write key for the load once the stack is up, and
    each worker's counters read from its own metrics port. ``broker``: a private RabbitMQ node to run on instead of
    the shared one at ``AMQP_URL`` (the caller starts and closes it)."""

    def __init__(self, workers: int = 2, broker: RabbitNode | None = None, **env: str) -> None:
        super().__init__("chaos", workers=workers, keep_logs=bool(os.environ.get("CHAOS_KEEP_LOGS")), env={
            "INGEST_SHARDS": str(SHARDS), "RPC_TIMEOUT": str(RPC_TIMEOUT), "MAX_DELIVERIES": "5",
            "LOG_LEVEL": "INFO", **env}, amqp_url=broker.amqp_url if broker is not None else AMQP_URL)
        self.broker = broker
        self.write_key = ""

    @property
    def amqp_url(self) -> str:
        return self.namespace.amqp_url

    async def start(self, timeout: float = 60.0, *, one_worker_at_a_time: bool = True) -> None:
        # One worker after the other, as a rolling start does: the first takes every shard, and gives the
        # second its share once that one is up (the balancing round), so both are applying shards under load.
        await super().start(timeout, one_worker_at_a_time=one_worker_at_a_time)
        self.write_key = await self._create_write_key()

    async def stop_all(self, sig: signal.Signals = signal.SIGTERM) -> dict[str, tuple[int, float]]:
        """Signal every alertbus service at once; their exit codes and stop times."""
        names = [name for name in ("gateway", *self.worker_names, "query") if self.services[name].alive]
        times = await asyncio.gather(*(self.signal_and_wait(name, sig) for name in names))
        return {name: (self.services[name].exits[-1][1], took) for name, took in zip(names, times, strict=True)}

    async def close(self) -> None:
        """Every process, the temporary directory (unless CHAOS_KEEP_LOGS) and the run's queues and exchanges (on
        a private node, they go with the node)."""
        self.stop()
        if self.keep_logs:
            print(f"chaos: logs kept in {self.tmp}")
        if self.broker is None:
            await self.delete_topology()

    def logs(self, lines: int = 40) -> str:
        """The services' logs, and the private node's."""
        own = f"\n--- RabbitMQ {self.broker.name} ---\n{self.broker.log_tail(lines)}" if self.broker else ""
        return super().logs(lines) + own

    async def get_status(self, path: str, timeout: float = 5.0) -> int | str:
        """The status of ``GET path`` on the gateway (with the write key), or why there was none in ``timeout``."""
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                    session.get(self.url + path, headers={"Authorization": f"Key {self.write_key}"}) as response:
                return response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            return type(exc).__name__

    async def _create_write_key(self) -> str:
        """A plain write key: the load authenticates as a producer would, not with the ADMIN_KEY (which the
        gateway checks without the store)."""
        async with aiohttp.ClientSession() as session:
            async with session.post(self.url + "/key", json={"user": "chaos", "scopes": ["write"]},
                                    headers={"Authorization": f"Key {self.admin_key}"}) as response:
                body = await response.json()
                assert response.status == 201, body
                return str(body["key"])

    async def metric(self, name: str, service: str) -> float:
        """A counter summed over its labels, from a worker's own /metrics port (0 when unreachable)."""
        port = self.services[service].env["INGEST_PORT"]
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    text = await response.text()
        except (TimeoutError, aiohttp.ClientError):
            return 0.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") or line.startswith(name + " "))


# -- the broker, seen from outside (rabbitmqctl), limited to this run's prefix ------------------------------------


async def our_connections(prefix: str, service: str = "") -> list[tuple[str, str]]:
    """(pid, name) of the connections this run's services opened (named ``<prefix>alertbus-<service>@...``).
    The plain table, not JSON: ``close_connection`` takes the pid as the table prints it."""
    result = await asyncio.to_thread(subprocess.run, ["rabbitmqctl", "-q", "list_connections", "pid",
                                                      "client_properties"],
                                     capture_output=True, text=True, timeout=30, check=True)
    found = []
    for line in result.stdout.splitlines():
        pid, _, props = line.partition("\t")
        match = re.search(r'\{"connection_name","([^"]*)"\}', props)
        if pid.startswith("<") and match and match.group(1).startswith(f"{prefix}alertbus-{service}"):
            found.append((pid, match.group(1)))
    return found


async def close_our_connections(prefix: str) -> list[str]:
    """``rabbitmqctl close_all_connections``, scoped to this run: close every connection of our services from
    the broker side (all at once). Returns the names of the connections closed."""
    found = await our_connections(prefix)
    await asyncio.gather(*(
        asyncio.to_thread(subprocess.run, ["rabbitmqctl", "-q", "close_connection", pid, "chaos test"],
                          capture_output=True, timeout=30, check=True)
        for pid, _ in found
    ))
    return [name for _, name in found]


async def ready_messages(prefix: str, amqp_url: str = AMQP_URL) -> dict[str, int]:
    """Messages ready for delivery in this run's shard queues and dead-letter queue (on the broker at
    ``amqp_url``), as the queues answer a passive declare now (``rabbitmqctl``'s figures are statistics, up to
    several seconds old)."""
    names = [f"{prefix}alertbus.ingest.{n}" for n in range(SHARDS)] + [f"{prefix}alertbus.dead"]
    counts = {}
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        for name in names:
            queue = await channel.declare_queue(name, passive=True)
            counts[name] = queue.declaration_result.message_count or 0
    return counts


async def shard_consumers(prefix: str, amqp_url: str = AMQP_URL) -> list[int]:
    """The active consumer count of each shard queue (0 or 1: they have single-active-consumer), as a passive
    declare answers it now."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        return [(await channel.declare_queue(f"{prefix}alertbus.ingest.{n}", passive=True)
                 ).declaration_result.consumer_count or 0 for n in range(SHARDS)]
