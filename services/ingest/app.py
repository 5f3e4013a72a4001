"""The ingest worker: consumes the shard queues, applies batches, replies to RPC callers, then acks.

Messages are acknowledged only after their database write, so a crash at any point leaves them in the broker to
be redelivered (and recognised, see ``Processor``). Failures of the broker and the store are survived in
place: the robust connection reconnects (``settle.py`` leaves messages of a lost channel to their redelivery),
a batch whose store is down is kept and retried with back-off, and a lane outlives any error of one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

from shared.broker import Names, RpcClient, connect, declare_topology
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import Store, StoreUnavailable, open_store
from shared.store.blackouts import BlackoutStore
from shared.store.counters import Counters
from shared.store.heartbeats import HeartbeatWatchQueries
from shared.store.leases import Leases
from shared.tasks import cancel_and_wait

from .blackouts import BlackoutCache
from .heartbeat_watch import HeartbeatWatch
from .on_demand import OnDemand
from .processor import Processor
from .schedules import Scheduler, make_schedules
from .settle import SETTLE_TIMEOUT, Settler
from .shards import Balancer, Shard

log = logging.getLogger("alertbus.ingest")
MAX_RETRY_DELAY = 5.0  # seconds between tries of a batch while the store is down
CLOSE_TIMEOUT = 2.0  # seconds for the connection and the store client to close on shutdown


class Worker:
    def __init__(self, settings: Settings, metrics: Metrics, schedules: bool = False) -> None:
        self.settings = settings
        self.metrics = metrics
        self.run_schedules = schedules
        self.scheduler: Scheduler | None = None
        self.on_demand: OnDemand | None = None
        # One inbox per lane; shard i always feeds lane i % lanes, so a shard stays in order while lanes
        # overlap their database round-trips.
        self.lanes: list[asyncio.Queue[AbstractIncomingMessage]] = [
            asyncio.Queue() for _ in range(min(settings.ingest.lanes, settings.shards))
        ]
        self.stack = AsyncExitStack()
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractChannel | None = None
        self.balancer: Balancer | None = None
        self.processor: Processor | None = None
        self.blackouts: BlackoutCache | None = None
        self.settler: Settler | None = None
        self.store: Store | None = None
        self.lane_tasks: list[asyncio.Task[None]] = []
        # Batches in hand (shielded from their lane's cancellation), with their messages.
        self.batches: dict[asyncio.Task[None], list[AbstractIncomingMessage]] = {}
        self.store_down = False  # the last try of a batch found the store unavailable
        self.stopping = asyncio.Event()
        self.unsubscribed = asyncio.Event()  # stop() has cancelled the shard consumers

    async def start(self) -> None:
        self.store = await self.stack.enter_async_context(open_store(self.settings.database_url, metrics=self.metrics))
        await Counters(self.store).start_up()  # built once for an existing database; a crash's journal recovered
        self.connection = await connect(self.settings, service="ingest")
        self.stack.push_async_callback(self.connection.close)
        self.channel = await self.connection.channel(publisher_confirms=False)
        await self.channel.set_qos(prefetch_count=self.settings.ingest.prefetch)
        _, queues = await declare_topology(self.channel, self.settings)
        # Loaded before the first alert is taken, and kept current by announcements (services/ingest/blackouts.py).
        self.blackouts = BlackoutCache(BlackoutStore(self.store), self.settings)
        await self.blackouts.start(await self.connection.channel(), Names.from_settings(self.settings).events)
        self.stack.push_async_callback(self.blackouts.stop)
        self.processor = Processor(self.store, self.settings, self.metrics, self.blackouts)
        events_channel = await self.connection.channel(publisher_confirms=True)
        events = await events_channel.get_exchange(Names.from_settings(self.settings).events)
        self.settler = Settler(self.settings, self.metrics, self.channel, events)
        self.lane_tasks = [
            asyncio.create_task(self._run_batches(lane), name=f"ingest-lane-{n}") for n, lane in enumerate(self.lanes)
        ]
        # A channel per lane: delivery tags are per channel, so a lane can acknowledge a whole batch with
        # one multiple-ack (see Settler.settle_batch) without touching another lane's messages.
        lane_channels = []
        for _ in self.lanes:
            lane_channel = await self.connection.channel(publisher_confirms=False)
            await lane_channel.set_qos(prefetch_count=self.settings.ingest.prefetch)
            lane_channels.append(lane_channel)
        shards = [
            Shard(index, declared.name, lane_channels[index % len(self.lanes)], self.lanes[index % len(self.lanes)].put)
            for index, declared in enumerate(queues)
        ]
        names = Names.from_settings(self.settings)
        # A shard that moves may have been written by another worker: the groups this one knows are forgotten.
        self.balancer = Balancer(self.channel, names.workers, shards, Leases(self.store), self.metrics,
                                 on_change=self.processor.groups.clear)
        self.connection.reconnect_callbacks.add(self._reconnected)
        await self.balancer.start()
        log.info("ingest worker consuming shards %s of %d", self.balancer.consuming, len(queues))
        await self._start_housekeeping()

    def _reconnected(self, _connection: object) -> None:
        if self.balancer is not None:
            self.balancer.forget()
        if self.blackouts is not None:  # announcements published while the connection was down are lost
            self.blackouts.reload_soon()

    async def _start_housekeeping(self) -> None:
        """Housekeeping on demand (every worker) and, with ``schedules``, housekeeping and the heartbeat watch on
        their schedules; they publish through their own RPC client (confirms, replies)."""
        assert self.connection is not None and self.store is not None
        rpc = RpcClient(self.connection, self.settings, self.metrics)
        await rpc.start()
        self.on_demand = OnDemand(self.settings, self.store, rpc, self.metrics)
        await self.on_demand.start(self.connection)
        if self.run_schedules:
            watch = HeartbeatWatch(HeartbeatWatchQueries(self.store), rpc, self.settings, self.metrics)
            if self.settings.ingest.heartbeat_watch_interval > 0:  # woken early by the workers that write heartbeats
                await watch.listen(await self.connection.channel(), Names.from_settings(self.settings).events)
            self.scheduler = Scheduler(Leases(self.store), self.metrics,
                                       make_schedules(self.settings, self.store, rpc, self.metrics, watch))
            self.scheduler.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Graceful shutdown: stop consuming, finish the batches in hand (bounded by ``grace``), then close.

        While the store is down nothing can finish: the batches in hand and the messages received are given
        back to the broker at once instead of waiting on the store. Whatever is not acknowledged when the
        connection closes returns to the broker all the same, and its redelivery is recognised."""
        self.stopping.set()
        stops = [self.scheduler.stop()] if self.scheduler is not None else []  # a run in progress is cancelled
        if self.on_demand is not None:
            stops.append(self.on_demand.stop())
        await asyncio.gather(*stops, self._unsubscribe())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._pending() and not self.store_down and loop.time() < deadline:
            await asyncio.sleep(0.05)
        cut = dict(self.batches)
        await cancel_and_wait([*self.lane_tasks, *cut], patience=1.0, grace=3.0)
        unfinished = [m for task, batch in cut.items() if task.cancelled() for m in batch]
        if self.settler is not None:
            await self.settler.give_back(unfinished + _drain(self.lanes), "the worker is stopping")
        try:
            # Bounded: the store client's close waits for an unreachable server to end its sessions.
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.stack.aclose()
        except TimeoutError:
            log.warning("closing the broker connection and the store client took over %.0fs; left behind",
                        CLOSE_TIMEOUT)

    async def _unsubscribe(self) -> None:
        """Stop consuming the shards. Until this is done, nothing is given back to the broker: it would hand a
        message straight back to this consumer, and every such round counts one delivery of it."""
        try:
            if self.balancer is not None:
                # Bounded: a cancel waits for the channel while the connection is being restored; deliveries of a
                # consumer not cancelled return to the broker with the connection.
                await self.balancer.stop(SETTLE_TIMEOUT)
        finally:
            self.unsubscribed.set()

    async def _give_back_stopping(self, batch: list[AbstractIncomingMessage]) -> None:
        assert self.settler is not None
        await self.unsubscribed.wait()
        await self.settler.give_back(batch, "the store is unavailable and the worker is stopping")

    def _pending(self) -> bool:
        return bool(self.batches) or any(not lane.empty() for lane in self.lanes)

    async def _next_batch(self, inbox: asyncio.Queue[AbstractIncomingMessage]) -> list[AbstractIncomingMessage]:
        loop = asyncio.get_running_loop()
        batch = [await inbox.get()]
        deadline = loop.time() + self.settings.ingest.batch_wait_ms / 1000
        while len(batch) < self.settings.ingest.batch_size:
            if not inbox.empty():
                batch.append(inbox.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    message = await inbox.get()
            except TimeoutError:
                break
            batch.append(message)
        return batch

    async def _run_batches(self, inbox: asyncio.Queue[AbstractIncomingMessage]) -> None:
        assert self.settler is not None
        previous: asyncio.Task[None] | None = None
        while True:
            batch = await self._next_batch(inbox)
            if self.stopping.is_set() and self.store_down:
                await self._give_back_stopping(batch)
                continue
            written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            # Shielded: a shutdown must not cut a batch between its write and its acks (stop() cancels it
            # only once its grace is over).
            task = asyncio.create_task(self._guarded(batch, written, previous), name="ingest-batch")
            self.batches[task] = batch
            task.add_done_callback(lambda done: self.batches.pop(done, None))
            previous = task
            # The next batch starts once this one is written (so its reads see these writes), while this one's
            # replies, events and acknowledgements go out.
            await asyncio.shield(written)

    async def _guarded(self, batch: list[AbstractIncomingMessage], written: asyncio.Future[None],
                       previous: asyncio.Task[None] | None) -> None:
        assert self.settler is not None
        try:
            await self._handle(batch, written, previous)
        except asyncio.CancelledError:
            raise
        except Exception:  # a lane outlives any one batch; its messages go back, to be tried again
            log.exception("batch of %d messages failed", len(batch))
            await self.settler.give_back(batch, "the batch failed")
        finally:
            if not written.done():
                written.set_result(None)

    async def _handle(self, batch: list[AbstractIncomingMessage], written: asyncio.Future[None],
                      previous: asyncio.Task[None] | None) -> None:
        assert self.processor is not None and self.settler is not None
        started = asyncio.get_running_loop().time()
        delay = 0.2
        while True:
            try:
                items = await self.processor.process(batch)
                self.store_down = False
                break
            except StoreUnavailable as exc:
                self.store_down = True
                if not self.stopping.is_set():
                    log.warning("store unavailable (%s); retrying the batch in %.1fs", exc, delay)
                    with contextlib.suppress(TimeoutError):  # a shutdown ends the wait at once
                        async with asyncio.timeout(delay):
                            await self.stopping.wait()
                if self.stopping.is_set():
                    await self._give_back_stopping(batch)
                    return
                delay = min(delay * 2, MAX_RETRY_DELAY)
        written.set_result(None)
        if previous is not None:
            # Settled in batch order: an acknowledgement covers every earlier delivery of the lane's channel.
            await asyncio.wait([previous])
        await self.settler.publish_events([item.event for item in items if item.event is not None])
        await self.settler.settle_batch(items)
        self.metrics.batch_size.observe(len(batch))
        self.metrics.batch_seconds.observe(asyncio.get_running_loop().time() - started)


def _drain(lanes: list[asyncio.Queue[AbstractIncomingMessage]]) -> list[AbstractIncomingMessage]:
    """Every message still waiting in the lanes' inboxes."""
    messages = []
    for lane in lanes:
        while not lane.empty():
            messages.append(lane.get_nowait())
    return messages


def create_worker(settings: Settings, metrics: Metrics | None = None, *, schedules: bool = False) -> Worker:
    """The ingest worker. ``schedules``: also run housekeeping and the heartbeat watch (``alertbus ingest`` and
    ``alertbus run`` do; tests turn them on only where they test them, so that they never touch other tests'
    data)."""
    return Worker(settings, metrics or Metrics(), schedules)
