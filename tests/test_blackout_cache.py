"""The ingest workers' copies of the blackouts (services/ingest/blackouts.py): every worker learns of a change
from the broker, a lost announcement costs at most one refresh interval, an unsigned announcement changes nothing
but makes a worker look, and matching an alert reads nothing from the store."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aio_pika

from services.ingest.app import Worker
from services.ingest.blackouts import BlackoutCache
from shared.broker import Names
from shared.store.blackouts import BlackoutStore
from shared.store.core import now_ms

from .support import Stack, alert, eventually, start_stack, unique


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``check`` (a plain predicate over a worker's memory) holds."""
    async def holds() -> bool:
        return check()
    await eventually(holds, timeout=timeout, interval=0.05)


def known(worker: Worker, ident: str) -> bool:
    assert worker.blackouts is not None
    return ident in worker.blackouts.blackouts.by_id


def store_reads(stack: Stack) -> float:
    """Observations of ``BlackoutStore.current`` (the only read of the workers' copies)."""
    for family in stack.metrics.store_seconds.collect():
        for sample in family.samples:
            if sample.name.endswith("_count") and sample.labels.get("operation") == "current":
                return sample.value
    return 0.0


async def test_every_worker_learns_of_every_change(store_url: str) -> None:
    async with start_stack(store_url) as stack:
        second = await stack.start_worker()
        workers = list(stack.workers)
        assert len(workers) == 2 and second in workers
        status, made = await stack.request("POST", "/blackout", {"environment": "Production", "resource": "r1"})
        assert status == 201
        ident = made["id"]
        await until(lambda: all(known(w, ident) for w in workers), 5)
        status, _ = await stack.request("PUT", f"/blackout/{ident}", {"resource": "r2"})
        assert status == 200

        await until(lambda: all(w.blackouts is not None and w.blackouts.blackouts.by_id[ident].resource == "r2"
                                for w in workers))
        assert (await stack.request("DELETE", f"/blackout/{ident}"))[0] == 200
        await until(lambda: all(not known(w, ident) for w in workers), 5)


async def test_a_lost_announcement_costs_one_refresh_at_most(stack: Stack) -> None:
    """A blackout written to the store with no announcement (as when the broker lost it) is found by the next
    periodic reload."""
    cache = BlackoutCache(BlackoutStore(stack.store), stack.settings, refresh=0.3)
    channel = await stack.connection.channel()
    await cache.start(channel, Names.from_settings(stack.settings).events)
    try:
        ident, now = str(uuid.uuid4()), now_ms()
        await stack.store.db["blackouts"].insert_one({
            "_id": ident, "environment": "Production", "resource": unique(), "service": [], "tags": [],
            "startTime": now, "endTime": now + timedelta(hours=1), "createTime": now, "priority": 2})
        assert ident not in cache.blackouts.by_id
        await until(lambda: ident in cache.blackouts.by_id, 3)
        await stack.store.db["blackouts"].delete_one({"_id": ident})
        await until(lambda: ident not in cache.blackouts.by_id, 3)
    finally:
        await cache.stop()
        await channel.close()


async def test_an_unsigned_announcement_only_makes_the_worker_reload(stack: Stack) -> None:
    worker = stack.workers[0]
    assert worker.blackouts is not None
    reloads = worker.blackouts.reloads
    resource, forged = unique(), str(uuid.uuid4())
    start = datetime.now(UTC) - timedelta(minutes=1)
    body = {"event": "created", "blackout": {
        "id": forged, "environment": "Production", "resource": resource, "event": None, "group": None,
        "origin": None, "service": [], "tags": [], "startTime": start.isoformat().replace("+00:00", "Z"),
        "endTime": (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z")}}
    channel = await stack.connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(Names.from_settings(stack.settings).events)
    await exchange.publish(aio_pika.Message(json.dumps(body).encode(), type="blackout",
                                            message_id=str(uuid.uuid4()), headers={"user": "forger"}),
                           routing_key="blackout.created")
    await channel.close()
    await until(lambda: worker.blackouts is not None and worker.blackouts.reloads > reloads, 5)
    assert not known(worker, forged)
    status, reply = await stack.post_alert(alert(resource))
    assert status == 201, reply


async def test_matching_alerts_reads_nothing_from_the_store(stack: Stack) -> None:
    worker = stack.workers[0]
    assert worker.blackouts is not None
    resource = unique()
    status, made = await stack.request("POST", "/blackout", {"environment": "Production", "resource": resource})
    assert status == 201
    await until(lambda: known(worker, made["id"]), 5)
    reads, reloads = store_reads(stack), worker.blackouts.reloads
    for n in range(20):
        status, _ = await stack.post_alert(alert(resource if n % 2 else unique()))
        assert status == (202 if n % 2 else 201)
    # Only a periodic reload, if one fell in this time, read the blackouts: no alert did.
    assert store_reads(stack) - reads == worker.blackouts.reloads - reloads <= 1
    assert (await stack.request("DELETE", f"/blackout/{made['id']}"))[0] == 200


async def test_a_blackout_changed_by_hand_into_nonsense_is_skipped(stack: Stack) -> None:
    """A document the gateway cannot have written (edited in the store) is left out of a worker's copy, with a
    warning; the other blackouts still apply and alerts still flow."""
    worker = stack.workers[0]
    assert worker.blackouts is not None
    good, bad = unique(), str(uuid.uuid4())
    status, made = await stack.request("POST", "/blackout", {"environment": "Production", "resource": good})
    assert status == 201
    now = now_ms()
    await stack.store.db["blackouts"].insert_one({
        "_id": bad, "environment": "Production", "startTime": "yesterday", "endTime": now + timedelta(hours=1),
        "service": 5})
    reloads = worker.blackouts.reloads
    worker.blackouts.reload_soon()
    await until(lambda: worker.blackouts is not None and worker.blackouts.reloads > reloads)
    assert known(worker, made["id"]) and not known(worker, bad)
    assert (await stack.post_alert(alert(good)))[0] == 202
    assert (await stack.post_alert(alert(unique())))[0] == 201
    await stack.store.db["blackouts"].delete_one({"_id": bad})
    assert (await stack.request("DELETE", f"/blackout/{made['id']}"))[0] == 200
