"""Server-side schedules in the ingest workers: housekeeping and the heartbeat watch.

Every replica runs the loop; a lease in the store (shared/store/leases.py) lets one of them run each schedule at a
time, once per interval for the whole installation. Each replica asks several times per interval (with jitter),
so that a schedule keeps its pace when its last runner stops. A run that dies leaves its lease to run out; the
next run repeats its work safely (guarded commands, see services/ingest/housekeeping.py).

A schedule with a ``pause`` (the heartbeat watch) is held instead: its holder keeps the lease (renewed by
``Leases.hold``) and runs again after each pause, until the lease is lost, a run fails or the worker stops; the
other replicas keep asking, and one of them takes over once the lease is free.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from shared.broker import RpcClient
from shared.housekeeping import Thresholds
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import Store
from shared.store.counters import Counters
from shared.store.heartbeats import HeartbeatWatchQueries
from shared.store.housekeeping import HousekeepingQueries
from shared.store.leases import TTL, Lease, LeaseBusy, Leases
from shared.tasks import cancel_and_wait

from .heartbeat_watch import NAME as HEARTBEAT_WATCH
from .heartbeat_watch import HeartbeatWatch
from .housekeeping import NAME as HOUSEKEEPING
from .housekeeping import housekeep

log = logging.getLogger("alertbus.schedules")
MIN_TICK, MAX_TICK = 0.25, 15.0


@dataclass(frozen=True)
class Schedule:
    name: str
    interval: float  # seconds between runs in the whole installation
    run: Callable[[Lease], Awaitable[dict[str, int]]]  # returns what it did, for the log
    pause: Callable[[Lease], Awaitable[None]] | None = None  # set: held, run again after each pause

    @property
    def tick(self) -> float:
        """How often a replica asks for the lease: a few times per interval."""
        return min(max(self.interval / 4, MIN_TICK), MAX_TICK)


def make_schedules(settings: Settings, store: Store, rpc: RpcClient, metrics: Metrics,
                   watch: HeartbeatWatch | None = None) -> list[Schedule]:
    """The schedules whose interval is not 0 (``watch``: the heartbeat watch, when the caller feeds it events)."""
    queries = HousekeepingQueries(store)
    thresholds = Thresholds.from_settings(settings)

    counters = Counters(store)

    async def housekeeping(lease: Lease) -> dict[str, int]:
        done = (await housekeep(queries, rpc, thresholds, metrics, lease=lease)).counts()
        # Journals a crashed worker left behind (shared/store/counters.py): its updates of writes that never
        # landed are taken back here, once they are older than any batch still writing.
        recovered = await counters.recover()
        return {**done, "counter_journals": recovered["journals"]}

    watch = watch or HeartbeatWatch(HeartbeatWatchQueries(store), rpc, settings, metrics)
    schedules = [Schedule(HOUSEKEEPING, settings.ingest.housekeeping_interval, housekeeping),
                 Schedule(HEARTBEAT_WATCH, settings.ingest.heartbeat_watch_interval, watch.run, watch.pause)]
    return [schedule for schedule in schedules if schedule.interval > 0]


class Scheduler:
    def __init__(self, leases: Leases, metrics: Metrics, schedules: list[Schedule], ttl: float = TTL) -> None:
        self.leases, self.metrics, self.schedules, self.ttl = leases, metrics, schedules, ttl
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._loop(s), name=f"schedule-{s.name}") for s in self.schedules]

    async def stop(self) -> None:
        """Cancel the loops; a run in progress stops where it is and its lease is released as due again."""
        await cancel_and_wait(self.tasks, grace=6.0)  # a held run's lease release may take up to RELEASE_TIMEOUT
        self.tasks = []

    async def _loop(self, schedule: Schedule) -> None:
        if schedule.pause is not None:  # held: asked for at once, for its holder is on time only while it holds
            await self.run_once(schedule)
        while True:
            # Jitter: replicas started together do not all ask at the same instant.
            await asyncio.sleep(schedule.tick * random.uniform(0.8, 1.2))
            await self.run_once(schedule)

    async def run_once(self, schedule: Schedule) -> bool:
        """Run the schedule if its lease is free and due (a held one: until its lease is lost); True when it
        ran to the end."""
        try:
            async with self.leases.hold(schedule.name, schedule.interval, ttl=self.ttl) as lease:
                await self._run(schedule, lease)
                while schedule.pause is not None and not lease.lost:
                    await schedule.pause(lease)
                    if not lease.lost:
                        await self._run(schedule, lease)
        except LeaseBusy:
            return False
        except Exception as exc:  # a background loop must outlive a store or broker outage; the next tick retries
            log.warning("%s run failed: %s: %.300s", schedule.name, type(exc).__name__, exc)
            self.metrics.schedule_runs.labels(schedule.name, "error").inc()
            return False
        return True

    async def _run(self, schedule: Schedule, lease: Lease) -> None:
        started = time.perf_counter()
        done = await schedule.run(lease)
        self.metrics.schedule_runs.labels(schedule.name, "done").inc()
        self.metrics.schedule_seconds.labels(schedule.name).observe(time.perf_counter() - started)
        level = logging.INFO if any(done.values()) else logging.DEBUG
        log.log(level, "%s run: %s", schedule.name, ", ".join(f"{k} {v}" for k, v in done.items()),
                extra={"schedule": schedule.name, "done": done})
