"""Shard balancing: ingest workers split the shard queues between them, and take over those of a worker that
stops (services/ingest/shards.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest
import pytest_asyncio

from services import ingest
from services.ingest import shards
from shared.broker import Names
from shared.metrics import Metrics
from shared.settings import Settings

from .conftest import delete_topology, eventually, make_settings

SHARDS = 6


def test_share_is_the_ceiling_of_shards_per_worker() -> None:
    assert [shards.share(8, n) for n in (0, 1, 2, 3, 8, 9)] == [8, 8, 4, 3, 1, 1]


def test_plan_takes_free_shards_up_to_the_share() -> None:
    give, take = shards.plan(set(), {0: 0, 1: 1, 2: 0, 3: 1}, workers=2)
    assert give == [] and sorted(take) == [0, 2]
    give, take = shards.plan({0, 2}, {0: 1, 1: 1, 2: 1, 3: 1}, workers=2)
    assert (give, take) == ([], [])


def test_plan_gives_back_what_is_above_the_share() -> None:
    give, take = shards.plan({0, 1, 2, 3}, {0: 1, 1: 1, 2: 1, 3: 1}, workers=2, coin=lambda: 1.0)
    assert give == [2, 3] and take == []


def test_plan_gives_back_a_shard_two_workers_took_on_a_coin_toss() -> None:
    mine, counts = {0, 1}, {0: 2, 1: 1, 2: 1, 3: 1}
    assert shards.plan(mine, counts, workers=2, coin=lambda: 0.9) == ([], [])
    give, take = shards.plan(mine, counts, workers=2, coin=lambda: 0.1)
    assert give == [0] and take == []  # and no shard is free to take


@pytest_asyncio.fixture
async def settings(store_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Settings]:
    monkeypatch.setattr(shards, "BALANCE_INTERVAL", 0.3)
    settings = make_settings(store_url, INGEST_SHARDS=SHARDS)
    yield settings
    connection = await aio_pika.connect_robust(settings.amqp_url)
    await delete_topology(connection, settings)
    await connection.close()


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
