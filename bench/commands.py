"""``python -m bench.commands``: store commands (and ingest CPU) per batch of the ingest write path, counted
deterministically — no wall clock, so the figures hold on a loaded machine.

Each batch goes through the ingest ``Processor`` as the worker runs it (decode, validate, policy, de-duplicate,
write), against a real SecantusDB (``--database-url``, or an embedded one of its own). Every command the PyMongo
client sends is counted with a command listener. Printed per batch size (1, 10, 100): the commands of a batch
of new alerts, and of a batch of duplicates of those alerts, by command name; and the processor's CPU time per
alert (``time.process_time``, this process only: the store runs in another one).

``--trusted``: the messages are published as the gateway publishes them (``user_id`` = the gateways' broker
user, ``GATEWAY_BROKER_USER``): the worker takes the gateway's validation instead of repeating it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from pymongo import AsyncMongoClient, monitoring

from services.ingest.blackouts import BlackoutCache
from services.ingest.processor import Processor
from shared.metrics import Metrics
from shared.schemas import ALERT_SCHEMA, load_body
from shared.settings import Settings
from shared.store.blackouts import BlackoutStore
from shared.vouching import validated_body

from .store import bench_store

SIZES = (1, 10, 100)
IGNORED = frozenset({"hello", "isMaster", "ismaster", "ping", "endSessions", "buildInfo"})
GATEWAY_USER = "alertbus-gateway"


class CommandCounter(monitoring.CommandListener):
    """Counts the commands the client sends (monitoring chatter excluded)."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name not in IGNORED:
            self.names[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def take(self) -> Counter[str]:
        names, self.names = self.names, Counter()
        return names


def message(body: dict[str, Any], user_id: str | None = None, kind: str = "alert") -> Any:
    """An incoming message as the worker sees one (the fields the processor reads); with ``user_id``, as the
    gateways publish it (the body as the schema loaded it: shared/vouching.py)."""
    raw = validated_body(load_body(ALERT_SCHEMA, body)) if user_id else json.dumps(body).encode()
    return SimpleNamespace(type=kind, body=raw, message_id=str(uuid.uuid4()),
                           headers={}, user_id=user_id, redelivered=False, reply_to=None, correlation_id=None)


def alerts(run: str, size: int, customer: str | None = None) -> list[dict[str, Any]]:
    return [{"resource": f"{run}-{size}-{n}", "event": "HttpError", "environment": "Production",
             "severity": "major", "service": ["web"], "text": "x" * 40, "tags": ["a", "b"],
             "attributes": {"region": "eu"}, **({"customer": customer} if customer else {})} for n in range(size)]


async def blackout_cache(store: Any, settings: Settings, count: int) -> BlackoutCache | None:
    """``count`` active blackouts of the alerts' environment that cover none of them (each is checked against every
    alert, as in a worker), loaded into a worker's cache: the cache, not the store, answers per alert."""
    if not count:
        return None
    repository = BlackoutStore(store)
    now = datetime.now(UTC)
    for n in range(count):
        await repository.insert_blackout({
            "_id": str(uuid.uuid4()), "environment": "Production", "resource": f"maintained-{n}", "service": [],
            "tags": [], "startTime": now, "endTime": now + timedelta(hours=1), "createTime": now, "priority": 2})
    cache = BlackoutCache(repository, settings)
    await cache.reload()
    return cache


async def measure(url: str, trusted: bool, rounds: int, client_bulk: bool | None = None, *, blackouts: int = 0,
                  customer_views: bool = False) -> list[dict[str, Any]]:
    """``client_bulk=False``: as on a server without the bulkWrite command (MongoDB before 8.0); ``blackouts``:
    that many active blackouts in the worker's cache; ``customer_views``: CUSTOMER_VIEWS on, alerts of a customer."""
    counter = CommandCounter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True, event_listeners=[counter])
    env = {"GATEWAY_BROKER_USER": GATEWAY_USER} if trusted else {}
    if customer_views:
        env["CUSTOMER_VIEWS"] = "true"
    customer = "Acme" if customer_views else None
    settings = Settings.from_env(env)
    from shared.store import Store  # noqa: PLC0415 - after the client: the store layer is what is measured
    from shared.store.counters import Counters  # noqa: PLC0415
    store = Store(client, f"bench_commands_{uuid.uuid4().hex[:8]}")
    store.client_bulk = client_bulk
    try:
        await store.ensure_indexes()
        await Counters(store).start_up()
        processor = Processor(store, settings, Metrics(), blackouts=await blackout_cache(store, settings, blackouts))
        user = GATEWAY_USER if trusted else None
        rows = []
        run = uuid.uuid4().hex[:6]
        for size in SIZES:
            for kind in ("new", "duplicate"):
                commands: Counter[str] = Counter()
                cpu = 0.0
                for round_ in range(rounds):
                    bodies = alerts(f"{run}{round_}", size, customer)  # duplicates: the same alerts again
                    if kind == "duplicate":
                        await processor.process([message(b, user) for b in bodies])
                    counter.take()
                    batch = [message(b, user) for b in bodies]
                    started = time.process_time()
                    items = await processor.process(batch)
                    cpu += time.process_time() - started
                    assert all(item.reply and item.reply[0] == 201 for item in items), items[0].reply
                    commands += counter.take()
                total = sum(commands.values()) / rounds
                rows.append({"size": size, "kind": kind, "commands": total,
                             "by_name": {k: v / rounds for k, v in sorted(commands.items())},
                             "cpu_ms_per_alert": 1000 * cpu / (rounds * size)})
        return rows
    finally:
        await client.drop_database(store.db.name)
        await client.close()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.commands", description=__doc__)
    parser.add_argument("--database-url", help="a running store (default: an embedded SecantusDB of its own)")
    parser.add_argument("--trusted", action="store_true", help="publish as the gateways do (user_id vouched)")
    parser.add_argument("--rounds", type=int, default=3, help="batches measured per row (default 3)")
    parser.add_argument("--no-bulk-write", action="store_true",
                        help="write as on a server without the bulkWrite command (MongoDB before 8.0)")
    parser.add_argument("--blackouts", type=int, default=0, help="active blackouts in the worker's cache (none cover "
                        "the alerts: each alert is checked against all)")
    parser.add_argument("--customer-views", action="store_true", help="CUSTOMER_VIEWS on, every alert of a customer")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as tmp:
        async with bench_store(args.database_url, Path(tmp) / "store") as url:
            rows = await measure(url, args.trusted, args.rounds, False if args.no_bulk_write else None,
                                 blackouts=args.blackouts, customer_views=args.customer_views)
    print(f"{'batch':>5} {'kind':<9} {'commands':>8}  by name                                   CPU ms/alert")
    for row in rows:
        names = ", ".join(f"{k} {v:g}" for k, v in row["by_name"].items())
        print(f"{row['size']:>5} {row['kind']:<9} {row['commands']:>8g}  {names:<40}  {row['cpu_ms_per_alert']:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
