"""Stopping tasks whose cancel may be lost (shared/tasks.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from shared.tasks import cancel_and_wait


async def waits_in_a_loop(event: asyncio.Event, turns: list[int]) -> None:
    """What PyMongo's server selection does: wait_for on a condition that is woken again and again."""
    while True:
        event.clear()
        await asyncio.wait_for(event.wait(), 10)
        turns.append(1)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="asyncio.wait_for keeps every cancel from Python 3.12")
async def test_a_cancel_that_lands_with_the_result_is_lost_by_wait_for() -> None:
    event = asyncio.Event()
    turns: list[int] = []
    task = asyncio.create_task(waits_in_a_loop(event, turns))
    await asyncio.sleep(0.01)
    event.set()
    task.cancel()  # the same loop iteration as the result
    done, _ = await asyncio.wait([task], timeout=0.2)
    assert not done and turns == [1], "the premise of shared/tasks.py: the task carries on as if not cancelled"
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_lost_cancel_is_repeated_until_the_task_ends() -> None:
    event = asyncio.Event()
    turns: list[int] = []
    task = asyncio.create_task(waits_in_a_loop(event, turns))
    await asyncio.sleep(0.01)
    event.set()
    left = await cancel_and_wait([task], patience=0.1, grace=2.0)
    assert left == set() and task.cancelled()


async def test_a_cleanup_is_given_its_patience_before_a_second_cancel() -> None:
    cleaned = []

    async def cleans_up() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.3)  # e.g. a lease release
            cleaned.append(1)

    task = asyncio.create_task(cleans_up())
    await asyncio.sleep(0.01)
    assert await cancel_and_wait([task], patience=1.0, grace=2.0) == set()
    assert cleaned == [1]


async def test_a_task_that_will_not_stop_is_left_behind_after_the_grace() -> None:
    stubborn = True

    async def ignores_cancels() -> None:
        while stubborn:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(ignores_cancels())
    await asyncio.sleep(0.01)
    assert await cancel_and_wait([task], patience=0.1, grace=0.5) == {task}
    stubborn = False
    task.cancel()
    await asyncio.wait([task], timeout=1)
    assert task.done()
