"""Shard balancing: the ingest workers share the shard queues between them, each consuming about S/N of them.

The shard queues have single-active-consumer, which keeps a shard in order but, left alone, gives every shard to
the first worker that subscribed: further workers would only stand by. So each worker subscribes only to its share,
and the broker is the only source of truth it needs (no coordinator, nothing stored):

* **presence**: every worker consumes ``<ingest>.workers``, a queue nothing is published to; its consumer count is
  the number of live workers N (the broker drops the consumer of a worker whose connection is gone, at once);
* **share**: ``ceil(S / N)`` shards;
* **taking**: a worker below its share subscribes to shards that have no consumer at all, in random order (a
  worker that died leaves its shards without consumers, so they are taken over at the next balancing round);
* **giving back**: a worker above its share (a worker joined) cancels its consumer on the extra shards; the
  messages already delivered to it are applied and acknowledged as usual, and another worker takes the shard
  at one of its next rounds — rounds are a few seconds apart, so the new consumer starts when the old one is done;
* **duplicates**: two workers that took the same shard at the same moment both see two consumers; each gives it
  back with probability ½ per round (single-active-consumer keeps only one of them active meanwhile).

A round is a few passive queue declarations (S + 1), every ``BALANCE_INTERVAL`` seconds with jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiormq
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from shared.metrics import Metrics

log = logging.getLogger("alertbus.ingest.shards")
BALANCE_INTERVAL = 2.0  # seconds between balancing rounds (each round waits 0.5–1.5 times this)
Consume = Callable[[AbstractIncomingMessage], Awaitable[None]]


@dataclass
class Shard:
    index: int
    name: str
    channel: AbstractChannel  # the lane's channel: deliveries of a shard always go to the same lane
    consume: Consume
    queue: AbstractQueue | None = None
    tag: str | None = None


async def _ignore(message: AbstractIncomingMessage) -> None:
    """Nothing is published to the presence queue; its consumer is a sign of life, not a reader."""


def share(shards: int, workers: int) -> int:
    """How many shards one of ``workers`` live workers consumes."""
    return math.ceil(shards / max(workers, 1))


def plan(mine: set[int], consumers: dict[int, int], workers: int, coin: Callable[[], float] = random.random,
         ) -> tuple[list[int], list[int]]:
    """One balancing decision: the shards to give back and the shards to take (pure; see the module doc)."""
    fair = share(len(consumers), workers)
    give = [index for index in sorted(mine) if consumers.get(index, 0) > 1 and coin() < 0.5]
    keep = sorted(mine - set(give))
    if len(keep) > fair:
        give += keep[fair:]
        keep = keep[:fair]
    free = [index for index, count in consumers.items() if count == 0 and index not in mine]
    random.shuffle(free)
    return give, free[:max(fair - len(keep), 0)]


class Balancer:
    def __init__(self, control: AbstractChannel, presence: str, shards: list[Shard], metrics: Metrics) -> None:
        self.control = control  # passive declarations (consumer counts) and the presence consumer
        self.presence = presence
        self.shards = shards
        self.metrics = metrics
        self.task: asyncio.Task[None] | None = None

    @property
    def consuming(self) -> list[int]:
        return [shard.index for shard in self.shards if shard.tag is not None]

    async def start(self) -> None:
        queue = await self.control.declare_queue(self.presence, durable=True)
        await queue.consume(_ignore, no_ack=True)
        await self.balance()
        self.task = asyncio.create_task(self._loop(), name="ingest-shard-balancer")

    async def stop(self, timeout: float) -> None:
        """Stop balancing and cancel every consumer (bounded: a cancel waits for a reconnecting channel)."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        for shard in self.shards:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._give_back(shard), timeout)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(BALANCE_INTERVAL * random.uniform(0.5, 1.5))
            try:
                await self.balance()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker is away: the next round tries again
                log.warning("shard balancing round failed: %r", exc)

    async def balance(self) -> None:
        channel = await self.control.get_underlay_channel()
        workers = await self._consumers(channel, self.presence)
        consumers = {shard.index: await self._consumers(channel, shard.name) for shard in self.shards}
        mine = {shard.index for shard in self.shards if shard.tag is not None}
        give, take = plan(mine, consumers, workers)
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
        shard.queue = shard.queue or await shard.channel.get_queue(shard.name)
        shard.tag = await shard.queue.consume(shard.consume, no_ack=False)
        self.metrics.ingest_shards.inc()

    async def _give_back(self, shard: Shard) -> None:
        if shard.queue is None or shard.tag is None:
            return
        tag, shard.tag = shard.tag, None
        self.metrics.ingest_shards.dec()
        await shard.queue.cancel(tag)
