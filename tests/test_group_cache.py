"""The groups an ingest worker knows from its last writes (shared/store/group_cache.py), on a real SecantusDB: a
batch of known groups skips the read; an emptied cache reads again; and a group changed behind the cache's back is a
conflict re-applied from a fresh read, never a lost or doubled count."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from pymongo import AsyncMongoClient

from bench.commands import CommandCounter, alerts, message
from services.ingest.processor import Processor
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import Store
from shared.store.counters import Counters
from shared.store.group_cache import GroupCache

from .support import unique
from .support.documents import stored_alert
from .support.seeding import insert_alerts


@pytest_asyncio.fixture
async def worker(store_url: str) -> AsyncIterator[tuple[Processor, CommandCounter]]:
    counter = CommandCounter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(store_url, tz_aware=True, event_listeners=[counter],
                                                                uuidRepresentation="standard")
    store = Store(client, f"group_cache_{unique()[:8]}".replace("-", "_"))
    await store.ensure_indexes()
    await Counters(store).start_up()
    try:
        yield Processor(store, Settings.from_env({}), Metrics()), counter
    finally:
        await client.drop_database(store.db.name)
        await client.close()


async def send(processor: Processor, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = await processor.process([message(body) for body in bodies])
    assert all(item.reply and item.reply[0] == 201 for item in items), [item.reply for item in items]
    return [item.reply[1]["alert"] for item in items if item.reply]


async def test_known_groups_skip_the_read_until_the_cache_is_emptied(
        worker: tuple[Processor, CommandCounter]) -> None:
    processor, counter = worker
    bodies = alerts(unique(), 5)
    await send(processor, bodies)
    counter.take()
    answers = await send(processor, bodies)
    assert counter.take() == {"bulkWrite": 1} and [a["duplicateCount"] for a in answers] == [1] * 5
    processor.groups.clear()  # what a shard move does (services/ingest/shards.py)
    answers = await send(processor, bodies)
    assert counter.take() == {"find": 1, "bulkWrite": 1} and [a["duplicateCount"] for a in answers] == [2] * 5


async def test_a_group_changed_behind_the_caches_back_is_read_again(worker: tuple[Processor, CommandCounter]) -> None:
    processor, counter = worker
    (body,) = alerts(unique(), 1)
    (first,) = await send(processor, [body])
    # Another writer (there is none in a running installation: see group_cache.py) changes the alert.
    await processor.store.alerts.update_one({"_id": first["id"]}, {"$set": {"attributes.theirs": "x", "_v": "theirs"}})
    counter.take()
    (again,) = await send(processor, [body])
    assert again["attributes"]["theirs"] == "x" and again["duplicateCount"] == 1  # read afresh after the conflict
    assert counter.take()["find"] == 1
    assert await Counters(processor.store).audit() == []


def test_the_cache_is_bounded_and_hands_out_copies() -> None:
    cache = GroupCache(max_docs=3)
    groups = {("P", f"r{n}"): [{"_id": f"a{n}", "event": "e", "tags": ["x"]}] for n in range(5)}
    cache.keep(groups, cache.epoch)
    assert cache.docs == 3 and list(cache.groups) == [("P", "r2"), ("P", "r3"), ("P", "r4")]
    taken = cache.take([("P", "r4"), ("P", "r0")])
    assert taken == {("P", "r4"): groups[("P", "r4")]} and taken[("P", "r4")][0] is not groups[("P", "r4")][0]
    stale = cache.epoch
    cache.clear()
    cache.keep(groups, stale)  # a batch that began before the cache was emptied keeps nothing
    assert cache.docs == 0 and not cache.groups


async def test_a_command_is_never_answered_404_or_412_from_memory(worker: tuple[Processor, CommandCounter]) -> None:
    """An alert the worker's memory lacks (stored behind its back: tests seed so) is found by a fresh read."""
    processor, _ = worker
    (body,) = alerts(unique(), 1)
    await send(processor, [body])  # the group is known now, with one alert
    other = stored_alert(body["environment"], body["resource"], event="Seeded")
    await insert_alerts(processor.store, [other])
    command = {"op": "delete", "id": other["_id"], "environment": body["environment"], "resource": body["resource"]}
    (item,) = await processor.process([message(command, kind="command")])
    assert item.reply is not None and item.reply[0] == 200, item.reply
    assert await processor.store.alerts.find_one({"_id": other["_id"]}) is None
