"""A broker operation the ingest worker stops waiting for is not cancelled (services/ingest/settle.py
``unhurried``): cancelling publishes that wait for their confirms closed their channel inside aiormq, and the
worker's connection then stopped reading for good."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.ingest.settle import bounded, unhurried


async def test_an_operation_past_its_time_goes_on() -> None:
    finished = asyncio.Event()

    async def slow() -> str:
        await asyncio.sleep(0.2)
        finished.set()
        return "done"

    with pytest.raises(TimeoutError):
        await unhurried(slow(), 0.01, "slow")
    assert not finished.is_set()
    await asyncio.wait_for(finished.wait(), 2)  # not cancelled: it completed after the caller gave up


async def test_a_quick_operation_gives_its_result() -> None:
    async def quick() -> int:
        return 7

    assert await unhurried(quick(), 1, "quick") == 7


async def test_a_late_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def fails_late() -> None:
        await asyncio.sleep(0.05)
        raise ConnectionError("gone")

    caplog.set_level(logging.WARNING, "alertbus.ingest")
    assert await bounded(fails_late(), 0.01, "publishing a test event") is False
    await asyncio.sleep(0.2)
    assert any("publishing a test event failed after its time was up" in r.getMessage() for r in caplog.records)


async def test_a_caller_cancelled_still_cancels_its_wait() -> None:
    async def forever() -> None:
        await asyncio.Event().wait()

    waiter = asyncio.create_task(unhurried(forever(), 10, "forever"))
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


class RecordingExchange:
    """Stands in for the events exchange (what the worker hands to RabbitMQ is what is checked)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    async def publish(self, message: object, routing_key: str, **options: object) -> None:
        self.calls.append({"routing_key": routing_key, **options})


async def test_change_events_are_not_mandatory() -> None:
    """An event nobody subscribes to is dropped by the broker, not returned to the worker frame by frame."""
    from services.ingest.settle import Settler
    from shared.metrics import Metrics
    from shared.settings import Settings

    exchange = RecordingExchange()
    settler = Settler(Settings.from_env({}), Metrics(), None, exchange)  # type: ignore[arg-type]
    await settler.publish_events([{"event": "created", "alert": {"id": "a1"}},
                                  {"event": "updated", "alert": {"id": "a2"}}])
    assert [call["routing_key"] for call in exchange.calls] == ["alert.created", "update.alert"]
    assert all(call["mandatory"] is False for call in exchange.calls)
