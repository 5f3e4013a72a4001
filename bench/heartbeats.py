"""``python -m bench.heartbeats``: what one wake-up of the heartbeat watch costs at N stored heartbeats.

Seeds N heartbeats (default 100,000) straight into the store (``tests.support.seeding.insert_heartbeats``), as
the ingest worker stores them: a minute of receive times, timeouts of 5 to 60 minutes, so every deadline lies
minutes ahead; and ``--expiring`` of them (default 10) already expired. It starts its own
SecantusDB process (or uses ``--database-url``) and measures, ``--repeat`` times each:

* ``old full scan`` — what the watch did before on every run: read every heartbeat and compute its status;
* ``wake-up, few expiring`` — one pass of the watch (``HeartbeatWatch.run``: the heartbeats due, their
  changes, the next deadline) while ``--expiring`` heartbeats are due (made due again before each repeat);
* ``wake-up, none due`` — the same pass when nothing is due (a wake-up at the longest sleep).

Documents examined are the store's own count (``explain`` with ``executionStats``) of the watch's reads (the
heartbeats due, then the lookahead windows probed for the next deadline), taken in one more, untimed pass. The
alerts the watch sends are recorded, not published: the broker's cost is not the store's, and this measures the
store's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from bench.store import bench_store
from services.ingest.heartbeat_watch import HeartbeatWatch
from shared.broker import RpcClient
from shared.metrics import Metrics
from shared.render import heartbeat_body
from shared.settings import Settings
from shared.store import Store, open_store
from shared.store.heartbeats import LONG_AGO, WATCH_AT, WATCH_FLAG, HeartbeatWatchQueries, heartbeat_deadline
from shared.store.leases import Lease
from tests.support.namespace import make_settings
from tests.support.seeding import insert_heartbeats

LONGEST = 60.0  # HEARTBEAT_WATCH_INTERVAL's default: the watch's longest sleep
SEEDING_BATCH = 5000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.heartbeats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heartbeats", type=int, default=100_000, help="heartbeats to seed (default 100000)")
    parser.add_argument("--expiring", type=int, default=10, help="of them expired (default 10)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each measurement (default 5)")
    parser.add_argument("--database-url", help="seed this (empty) MongoDB database instead of starting SecantusDB")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated heartbeats")
    return parser.parse_args(argv)


def heartbeats(count: int, expiring: int, now: datetime, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(count):
        expired = n < expiring
        timeout = 60 if expired else rng.choice((300, 600, 1800, 3600))
        received = now - timedelta(seconds=300 if expired else rng.uniform(0, 60))
        received = received.replace(microsecond=received.microsecond // 1000 * 1000)
        yield {"_id": f"bench-{n:07d}", "origin": f"bench/host-{n:07d}", "tags": [], "attributes": {},
               "type": "Heartbeat", "createTime": received, "receiveTime": received, "timeout": timeout,
               WATCH_AT: heartbeat_deadline(received, timeout)}


class Recorder:
    """Stands in for the RPC client: counts the alerts the watch would publish."""

    def __init__(self) -> None:
        self.sent = 0

    async def send_alert(self, payload: dict[str, Any], wire: dict[str, Any], *, user: str | None,
                         wait: bool) -> None:
        self.sent += 1


async def timed(action: Callable[[], Awaitable[object]], repeat: int,
                before: Callable[[], Awaitable[object]] | None = None) -> list[float]:
    """Milliseconds of each of ``repeat`` runs of ``action`` (``before`` each, untimed)."""
    spent = []
    for _ in range(repeat):
        if before is not None:
            await before()
        started = time.perf_counter()
        await action()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


async def examined(store: Store, query: dict[str, Any], **options: Any) -> int:
    command = {"find": store.heartbeats.name, "filter": query, **options}
    plan = await store.db.command("explain", command, verbosity="executionStats")
    return int(plan["executionStats"]["totalDocsExamined"])


class Examined(HeartbeatWatchQueries):
    """The watch's reads, each also explained: the documents the store examined for them, read by read."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.store = store
        self.reads: list[int] = []

    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        self.reads.append(await examined(self.store, {WATCH_AT: {"$lte": now}}, limit=limit))
        return await super().due(now, limit)

    async def next_due(self, after: datetime, before: datetime) -> datetime | None:
        query = {WATCH_AT: {"$gt": after, "$lte": before}}
        self.reads.append(await examined(self.store, query, sort={WATCH_AT: 1}, limit=1))
        return await super().next_due(after, before)


async def examined_by_pass(store: Store, settings: Settings, lease: Lease) -> str:
    queries = Examined(store)
    await HeartbeatWatch(queries, cast(RpcClient, Recorder()), settings, Metrics()).run(lease)
    return "+".join(map(str, queries.reads))


def line(label: str, spent: list[float], docs: int | str, sent: str = "") -> None:
    print(f"  {label:<28} median {statistics.median(spent):9.1f} ms  max {max(spent):9.1f} ms  "
          f"docs examined {docs!s:>7}{sent}")


async def run(args: argparse.Namespace, database_url: str) -> None:
    settings = make_settings(database_url, HEARTBEAT_WATCH_INTERVAL=LONGEST)
    async with open_store(database_url) as store:
        now = datetime.now(UTC)
        started = time.perf_counter()
        seeded = await insert_heartbeats(store, heartbeats(args.heartbeats, args.expiring, now, args.seed),
                                         SEEDING_BATCH)
        print(f"seeded {seeded} heartbeats ({args.expiring} expired) in {time.perf_counter() - started:.1f} s")
        recorder = Recorder()
        watch = HeartbeatWatch(HeartbeatWatchQueries(store), cast(RpcClient, recorder), settings, Metrics())
        lease = Lease("bench", "bench", now)
        expired_ids = [f"bench-{n:07d}" for n in range(args.expiring)]

        async def old_scan() -> None:
            at = datetime.now(UTC)
            for doc in await store.heartbeats.find({}).to_list(None):
                heartbeat_body(doc, settings.rules.heartbeat_max_latency_ms, at)

        async def make_due() -> None:  # the expired heartbeats as the ingest worker left them: due, unflagged
            await store.heartbeats.update_many({"_id": {"$in": expired_ids}},
                                               {"$set": {WATCH_AT: LONG_AGO}, "$unset": {WATCH_FLAG: ""}})

        print(f"one wake-up of the heartbeat watch at {seeded} heartbeats ({args.repeat} runs each):")
        line("old full scan", await timed(old_scan, args.repeat), await examined(store, {}))
        spent = await timed(lambda: watch.run(lease), args.repeat, make_due)
        sent = recorder.sent
        await make_due()
        line("wake-up, few expiring", spent, await examined_by_pass(store, settings, lease),
             f"  HeartbeatFail sent {sent // args.repeat} per run")
        # Now nothing is due: the expired ones are re-sent one HEARTBEAT_WATCH_INTERVAL later.
        spent = await timed(lambda: watch.run(lease), args.repeat)
        line("wake-up, none due", spent, await examined_by_pass(store, settings, lease),
             f"  alerts sent {recorder.sent - sent}")
        print("docs examined: by each read of the pass (the heartbeats due, then each lookahead window probed for "
              "the next deadline)")


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="alertbus-bench-heartbeats-"))
    async with bench_store(args.database_url, directory) as database_url:
        await run(args, database_url)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
