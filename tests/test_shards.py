"""Shard balancing: ingest workers split the shard queues between them, and take over those of a worker that
stops (services/ingest/shards.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest
import pytest_asyncio

from services import ingest
from services.ingest import shards
from shared.broker import Names
from shared.metrics import Metrics
from shared.settings import Settings

from .support import eventually, isolated_settings

SHARDS = 6


def test_share_is_the_ceiling_of_shards_per_worker() -> None:
    assert [shards.share(8, n) for n in (0, 1, 2, 3, 8, 9)] == [8, 8, 4, 3, 1, 1]


def test_plan_takes_free_shards_up_to_the_share() -> None:
    give, take = shards.plan(set(), {0: 0, 1: 1, 2: 0, 3: 1}, workers=2, waited={0: 1, 2: 1})
    assert give == [] and sorted(take) == [0, 2]
    give, take = shards.plan({0, 2}, {0: 1, 1: 1, 2: 1, 3: 1}, workers=2, waited={})
    assert (give, take) == ([], [])


def test_plan_gives_back_what_is_above_the_share() -> None:
    give, take = shards.plan({0, 1, 2, 3}, {0: 1, 1: 1, 2: 1, 3: 1}, workers=2, waited={})
    assert give == [2, 3] and take == []


def test_plan_takes_a_shard_left_without_consumer_for_rounds_even_at_its_share() -> None:
    counts = {0: 1, 1: 1, 2: 0, 3: 1}
    assert shards.plan({0, 1}, counts, workers=2, waited={2: 1}) == ([], [])  # someone below its share may
    assert shards.plan({0, 1}, counts, workers=2, waited={2: shards.PATIENCE}) == ([], [2])


@pytest_asyncio.fixture
async def settings(store_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Settings]:
    monkeypatch.setattr(shards, "BALANCE_INTERVAL", 0.3)
    async with isolated_settings(store_url, INGEST_SHARDS=SHARDS) as settings:
        yield settings


async def consumer_counts(settings: Settings) -> list[int]:
    """What the broker says: consumers per shard queue."""
    names = Names.from_settings(settings)
    connection = await aio_pika.connect_robust(settings.amqp_url)
    try:
        channel = await (await connection.channel()).get_underlay_channel()
        return [int((await channel.queue_declare(names.shard(i), passive=True)).consumer_count or 0)
                for i in range(SHARDS)]
    finally:
        await connection.close()


def consuming(worker: ingest.Worker) -> set[int]:
    assert worker.balancer is not None
    return set(worker.balancer.consuming)


async def test_two_workers_split_the_shards_and_one_takes_all_when_the_other_stops(settings: Settings) -> None:
    metrics = Metrics()
    first = ingest.create_worker(settings, metrics)
    await first.start()
    second = ingest.create_worker(settings, metrics)
    try:
        assert consuming(first) == set(range(SHARDS))  # alone, a worker consumes every shard at once
        await second.start()

        async def split() -> bool:
            return len(consuming(first)) == len(consuming(second)) == SHARDS // 2

        await eventually(split, timeout=20)
        assert consuming(first).isdisjoint(consuming(second))
        assert await consumer_counts(settings) == [1] * SHARDS
        assert metrics.registry.get_sample_value("alertbus_ingest_shards") == SHARDS
        await second.stop(grace=2)

        async def all_back() -> bool:
            return consuming(first) == set(range(SHARDS)) and await consumer_counts(settings) == [1] * SHARDS

        await eventually(all_back, timeout=20)
    finally:
        await second.stop(grace=2)
        await first.stop(grace=2)


async def test_workers_started_together_end_with_one_consumer_per_shard(settings: Settings) -> None:
    metrics = Metrics()
    workers = [ingest.create_worker(settings, metrics) for _ in range(2)]
    try:
        await asyncio.gather(*(worker.start() for worker in workers))

        async def one_each() -> bool:
            return await consumer_counts(settings) == [1] * SHARDS

        await eventually(one_each, timeout=20)
        assert consuming(workers[0]).isdisjoint(consuming(workers[1]))
        assert len(consuming(workers[0]) | consuming(workers[1])) == SHARDS
    finally:
        await asyncio.gather(*(worker.stop(grace=2) for worker in workers))
