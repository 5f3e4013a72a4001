"""Shard balancing: the ingest workers share the shard queues between them, each consuming about S/N of them.

The shard queues have single-active-consumer, which keeps a shard in order but, left alone, gives every shard to
the first worker that subscribed: further workers would only stand by. So each worker subscribes only to its share:

* **presence**: every worker consumes ``<ingest>.workers``, a queue nothing is published to; its consumer count is
  the number of live workers N (the broker drops the consumer of a worker whose connection is gone, at once);
* **share**: ``ceil(S / N)`` shards;
* **one round at a time**: a balancing round runs under a short lease (``ingest-balance``, in the store), so two
  workers never take the same free shard at once. (The broker cannot tell: for a single-active-consumer queue
  the consumer count it declares is that of *active* consumers, so a second, waiting consumer is invisible,
  and a shard it was meant for would go unconsumed.) Consumers are therefore made only by rounds: after a
  reconnection the robust channel does not restore them; the next round takes shards again;
* **taking**: a worker below its share subscribes to shards without a consumer, in random order. A worker that
  died leaves its shards without consumers, so they are taken over at the next round; a shard that stays
  without a consumer for two rounds in a row is taken even above the share (nothing waits for the balance);
* **giving back**: a worker above its share (a worker joined) cancels its consumer on the extra shards; what
  was already delivered to it is applied and acknowledged as usual, and another worker takes the shard at one
  of its next rounds.

A round is a lease update, a few passive queue declarations (S + 1) and the lease release, every
``BALANCE_INTERVAL`` seconds with jitter. While the store is unreachable no round runs: shards stay where they
are (nothing could be written anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

import aiormq
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustQueue

from shared.metrics import Metrics
from shared.store.leases import LeaseBusy, Leases

log = logging.getLogger("alertbus.ingest.shards")
BALANCE_INTERVAL = 2.0  # seconds between balancing rounds (each round waits 0.5–1.5 times this)
LEASE = "ingest-balance"
# Seconds: a worker that dies in a round (say, while the store hangs) holds up the others' rounds this long at
# most, so its shards wait that long for a new consumer. A round takes milliseconds; one that outlasts the lease
# may overlap another's, and the patience rule takes any shard that ends up without a consumer.
LEASE_TTL = 4.0
PATIENCE = 2  # rounds a shard may stay without a consumer before a worker at its share takes it anyway
Consume = Callable[[AbstractIncomingMessage], Awaitable[None]]


@dataclass
class Shard:
    index: int
    name: str
    channel: AbstractChannel  # the lane's channel: deliveries of a shard always go to the same lane
    consume: Consume
    queue: AbstractRobustQueue | None = None
    tag: str | None = None


async def _ignore(message: AbstractIncomingMessage) -> None:
    """Nothing is published to the presence queue; its consumer is a sign of life, not a reader."""


def share(shards: int, workers: int) -> int:
    """How many shards one of ``workers`` live workers consumes."""
    return math.ceil(shards / max(workers, 1))


def plan(
    mine: set[int], consumers: dict[int, int], workers: int, waited: dict[int, int],
) -> tuple[list[int], list[int]]:
    """One balancing decision: the shards to give back and the shards to take (pure; see the module doc).
    ``waited``: how many rounds each shard without a consumer has been seen so, this one included."""
    fair = share(len(consumers), workers)
    keep = sorted(mine)
    give = keep[fair:]
    free = [index for index, count in consumers.items() if count == 0 and index not in mine]
    random.shuffle(free)
    room = max(fair - len(keep), 0)
    take = free[:room] + [index for index in free[room:] if waited.get(index, 0) >= PATIENCE]
    return give, take


class Balancer:
    def __init__(self, control: AbstractChannel, presence: str, shards: list[Shard], leases: Leases,
                 metrics: Metrics, on_change: Callable[[], None] = lambda: None) -> None:
        self.on_change = on_change  # called whenever a shard is taken or given back, or lost with the connection
        self.control = control  # passive declarations (consumer counts) and the presence consumer
        self.presence = presence
        self.shards = shards
        self.leases = leases
        self.metrics = metrics
        self.waited: dict[int, int] = {}  # shard -> rounds seen without a consumer in a row
        self.task: asyncio.Task[None] | None = None

    @property
    def consuming(self) -> list[int]:
        return [shard.index for shard in self.shards if shard.tag is not None]

    async def start(self) -> None:
        queue = await self.control.declare_queue(self.presence, durable=True)
        await queue.consume(_ignore, no_ack=True)
        # At once: a lone worker (or a restarted one) consumes without waiting a round. The lease may be held by
        # another worker's round, or by a stopped worker's until it runs out (LEASE_TTL): try again until it is free.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LEASE_TTL + 1
        while not await self.balance() and loop.time() < deadline:
            await asyncio.sleep(0.1)
        self.task = asyncio.create_task(self._loop(), name="ingest-shard-balancer")

    async def stop(self, timeout: float) -> None:
        """Cancel every consumer first — deliveries must stop at once, even while a round waits on an unreachable
        store — then stop balancing; each step bounded (a cancel waits for a reconnecting channel)."""
        if self.task is not None:
            self.task.cancel()
        await self._give_back_all(timeout)
        if self.task is not None:
            await asyncio.wait([self.task], timeout=timeout)
            await self._give_back_all(timeout)  # a shard the cancelled round took after all

    async def _give_back_all(self, timeout: float) -> None:
        for shard in self.shards:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout):
                    await self._give_back(shard)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(BALANCE_INTERVAL * random.uniform(0.5, 1.5))
            try:
                await self.balance()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker is away: the next round tries again
                log.warning("shard balancing round failed: %r", exc)

    def forget(self) -> None:
        """The connection was lost, and with it every consumer (the robust channel restores none of them)."""
        self.on_change()
        for shard in self.shards:
            if shard.tag is not None:
                shard.tag = None
                self.metrics.ingest_shards.dec()

    async def balance(self) -> bool:
        """One round, unless another worker's round is running (then the next one); whether it ran."""
        try:
            async with self.leases.hold(LEASE, 0, due_only=False, ttl=LEASE_TTL):
                await self._round()
        except LeaseBusy:
            return False
        return True

    async def _round(self) -> None:
        channel = await self.control.get_underlay_channel()
        workers = await self._consumers(channel, self.presence)
        consumers = {shard.index: await self._consumers(channel, shard.name) for shard in self.shards}
        mine = {shard.index for shard in self.shards if shard.tag is not None}
        self.waited = {index: self.waited.get(index, 0) + 1 for index, count in consumers.items()
                       if count == 0 and index not in mine}
        give, take = plan(mine, consumers, workers, self.waited)
        for index in give:
            await self._give_back(self.shards[index])
        for index in take:
            await self._take(self.shards[index])
        if give or take:
            log.info("ingest worker consumes shards %s (%d live workers)", self.consuming, workers)

    @staticmethod
    async def _consumers(channel: aiormq.abc.AbstractChannel, name: str) -> int:
        declared = await channel.queue_declare(name, passive=True)
        return int(declared.consumer_count or 0)

    async def _take(self, shard: Shard) -> None:
        # Declared (passively) on the lane channel, not just named: the robust channel restores the queues
        # declared on it, and with them their consumers, after a reconnection.
        self.on_change()
        shard.queue = shard.queue or cast(AbstractRobustQueue, await shard.channel.get_queue(shard.name))
        # Not robust: a consumer restored behind the round's back could wait unseen (see the module doc).
        shard.tag = await shard.queue.consume(shard.consume, no_ack=False, robust=False)
        self.waited.pop(shard.index, None)
        self.metrics.ingest_shards.inc()

    async def _give_back(self, shard: Shard) -> None:
        if shard.queue is None or shard.tag is None:
            return
        self.on_change()
        tag, shard.tag = shard.tag, None
        self.metrics.ingest_shards.dec()
        await shard.queue.cancel(tag)
