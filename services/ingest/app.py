"""The ingest worker: consumes the shard queues, applies batches, replies to RPC callers, then acks.

One batch at a time: messages are acknowledged only after their database write, so a crash at any point
leaves them in the broker to be redelivered (and recognised, see ``Processor``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import AsyncExitStack
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared import logs
from shared.broker import Names, RpcClient, connect, declare_topology
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import Store, StoreUnavailable, open_store
from shared.store.leases import Leases

from .processor import Item, Processor, Settle
from .schedules import Scheduler, make_schedules

log = logging.getLogger("alertbus.ingest")


class Worker:
    def __init__(self, settings: Settings, metrics: Metrics, schedules: bool = False) -> None:
        self.settings = settings
        self.metrics = metrics
        self.run_schedules = schedules
        self.scheduler: Scheduler | None = None
        # One inbox per lane; shard i always feeds lane i % lanes, so a shard stays in order while lanes
        # overlap their database round-trips.
        self.lanes: list[asyncio.Queue[AbstractIncomingMessage]] = [
            asyncio.Queue() for _ in range(min(settings.lanes, settings.shards))
        ]
        self.stack = AsyncExitStack()
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.queues: list[tuple[AbstractQueue, str]] = []
        self.processor: Processor | None = None
        self.store: Store | None = None
        self.events: AbstractExchange | None = None
        self.lane_tasks: list[asyncio.Task[None]] = []
        self.busy = 0
        self.stopping = False

    async def start(self) -> None:
        self.store = await self.stack.enter_async_context(open_store(self.settings.database_url, metrics=self.metrics))
        self.processor = Processor(self.store, self.settings, self.metrics)
        self.connection = await connect(self.settings)
        self.stack.push_async_callback(self.connection.close)
        self.channel = await self.connection.channel(publisher_confirms=False)
        await self.channel.set_qos(prefetch_count=self.settings.prefetch)
        _, queues = await declare_topology(self.channel, self.settings)
        events_channel = await self.connection.channel(publisher_confirms=True)
        self.events = await events_channel.get_exchange(Names.from_settings(self.settings).events)
        self.lane_tasks = [
            asyncio.create_task(self._run_batches(lane), name=f"ingest-lane-{n}") for n, lane in enumerate(self.lanes)
        ]
        # A channel per lane: delivery tags are per channel, so a lane can acknowledge a whole batch with
        # one multiple-ack (see _settle_batch) without touching another lane's messages.
        lane_channels = []
        for _ in self.lanes:
            lane_channel = await self.connection.channel(publisher_confirms=False)
            await lane_channel.set_qos(prefetch_count=self.settings.prefetch)
            lane_channels.append(lane_channel)
        for index, declared in enumerate(queues):
            lane = index % len(self.lanes)
            queue = await lane_channels[lane].get_queue(declared.name, ensure=False)
            tag = await queue.consume(self.lanes[lane].put, no_ack=False)
            self.queues.append((queue, tag))
        log.info("ingest worker consuming %d shard queues", len(queues))
        if self.run_schedules:
            await self._start_schedules()

    async def _start_schedules(self) -> None:
        """Housekeeping and the heartbeat watch; they publish through their own RPC client (confirms, replies)."""
        assert self.connection is not None and self.store is not None
        rpc = RpcClient(self.connection, self.settings)
        await rpc.start()
        self.scheduler = Scheduler(Leases(self.store), self.metrics,
                                   make_schedules(self.settings, self.store, rpc, self.metrics))
        self.scheduler.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Graceful shutdown: stop consuming, finish what was received (bounded), then close."""
        self.stopping = True
        if self.scheduler is not None:  # first: a run waits for replies from the lanes
            await self.scheduler.stop()
        for queue, tag in self.queues:
            try:
                await queue.cancel(tag)
            except Exception:  # the channel may already be gone; unacked messages return to the broker
                log.debug("cancel of %s failed", queue.name, exc_info=True)
        self.queues.clear()
        deadline = asyncio.get_running_loop().time() + grace
        while self._pending() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for task in self.lane_tasks:
            task.cancel()
        await asyncio.gather(*self.lane_tasks, return_exceptions=True)
        await self.stack.aclose()

    def _pending(self) -> bool:
        return self.busy > 0 or any(not lane.empty() for lane in self.lanes)

    async def _next_batch(self, inbox: asyncio.Queue[AbstractIncomingMessage]) -> list[AbstractIncomingMessage]:
        loop = asyncio.get_running_loop()
        batch = [await inbox.get()]
        deadline = loop.time() + self.settings.batch_wait_ms / 1000
        while len(batch) < self.settings.batch_size:
            if not inbox.empty():
                batch.append(inbox.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(inbox.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run_batches(self, inbox: asyncio.Queue[AbstractIncomingMessage]) -> None:
        while True:
            batch = await self._next_batch(inbox)
            self.busy += 1
            try:
                # Shielded: a shutdown must not cut a batch between its write and its acks.
                await asyncio.shield(self._handle(batch))
            finally:
                self.busy -= 1

    async def _handle(self, batch: list[AbstractIncomingMessage]) -> None:
        assert self.processor is not None
        started = asyncio.get_running_loop().time()
        delay = 0.2
        while True:
            try:
                items = await self.processor.process(batch)
                break
            except StoreUnavailable as exc:
                if self.stopping:
                    log.warning("store unavailable during shutdown; %d messages return to the broker", len(batch))
                    return
                log.warning("store unavailable (%s); retrying the batch in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        await self._publish_events([item.event for item in items if item.event is not None])
        await self._settle_batch(items)
        self.metrics.batch_size.observe(len(batch))
        self.metrics.batch_seconds.observe(asyncio.get_running_loop().time() - started)

    async def _publish_events(self, events: list[dict[str, Any]]) -> None:
        """Notify what changed, after the write and before the acks. Best effort: the alerts are stored
        whatever happens here, so a failure is logged, not retried."""
        if not events or self.events is None:
            return
        exchange = self.events
        try:
            await asyncio.gather(*(
                exchange.publish(
                    aio_pika.Message(json.dumps(event, separators=(",", ":")).encode(),
                                     content_type="application/json",
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=f"alert.{event['event']}",
                )
                for event in events
            ))
        except Exception:
            log.warning("could not publish %d alert events", len(events), exc_info=True)

    async def _settle_batch(self, items: list[Item]) -> None:
        """Reply, then settle: rejects and requeues one by one, and every acknowledged message of the batch
        with a single multiple-ack on the last one (the batch holds all of its lane channel's unsettled
        deliveries up to that tag, in order)."""
        last_ack: AbstractIncomingMessage | None = None
        for item in items:
            with logs.bound(_request_id(item.message)):
                if await self._settle(item):
                    last_ack = item.message
        if last_ack is not None:
            await last_ack.ack(multiple=True)

    async def _settle(self, item: Item) -> bool:
        """Reply and reject/requeue as the item says; True when the message is to be acknowledged."""
        message = item.message
        final = item.settle is Settle.DEAD or (
            item.settle is Settle.RETRY and _delivery_count(message) + 1 >= self.settings.max_deliveries
        )
        if item.reply and message.reply_to and (item.settle is not Settle.RETRY or final):
            await self._reply(message, *item.reply)
        log.debug("%s %s: %s", item.kind, message.message_id, item.reason or item.settle,
                  extra={"code": item.reply[0] if item.reply else None})
        if item.reason == "guard":
            self.metrics.commands_skipped.labels(item.op or "").inc()
        if item.settle is Settle.ACK:
            return True
        if final:
            # Dead-letter it ourselves on the last try, so that it is counted exactly once; the queue's
            # x-delivery-limit stays as the broker-side backstop (e.g. for a worker that crashes on it).
            log.warning("%s %s dead-lettered (%s)", item.kind, message.message_id, item.reason or "error")
            self.metrics.dead_lettered.labels(item.reason or "error").inc()
            await message.reject(requeue=False)
        else:
            await message.nack(requeue=True)
        return False

    async def _reply(self, message: AbstractIncomingMessage, code: int, body: dict[str, Any]) -> None:
        assert self.channel is not None
        try:
            await self.channel.default_exchange.publish(
                aio_pika.Message(
                    json.dumps({"code": code, "body": body}, separators=(",", ":")).encode(),
                    content_type="application/json",
                    correlation_id=message.correlation_id,
                ),
                routing_key=message.reply_to or "",
            )
        except Exception:  # the caller may be gone; the message itself was processed
            log.warning("reply to %s failed", message.reply_to, exc_info=True)


def _request_id(message: AbstractIncomingMessage) -> str | None:
    """The gateway's request id (message header ``request_id``), so that the worker's log lines carry it."""
    value = (message.headers or {}).get("request_id")
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value if isinstance(value, str) else None


def _delivery_count(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get("x-delivery-count", 0)
    return int(value) if isinstance(value, int) else 0


def create_worker(settings: Settings, metrics: Metrics | None = None, *, schedules: bool = False) -> Worker:
    """The ingest worker. ``schedules``: also run housekeeping and the heartbeat watch (``alertbus ingest`` and
    ``alertbus run`` do; tests turn them on only where they test them, so that they never touch other tests'
    data)."""
    return Worker(settings, metrics or Metrics(), schedules)
