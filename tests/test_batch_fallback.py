"""A batch whose alert write fails (not a store outage: an error the whole bulk write shares) is applied again one
message at a time, to isolate the message at fault. What the batch had applied already before the failure — a
heartbeat, which is written on its own — must not be applied a second time: a heartbeat delete answered 404, a
heartbeat counted twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from services.ingest import processor
from shared.broker import RpcClient

from .support import Stack, alert, eventually, start_stack, unique


@pytest_asyncio.fixture
async def batching(store_url: str) -> AsyncIterator[Stack]:
    # A long batch wait: the messages published together make one batch.
    async with start_stack(store_url, INGEST_BATCH_WAIT_MS=500) as stack:
        yield stack


async def test_items_applied_before_a_batch_failure_are_not_applied_again(
        batching: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = batching
    origin = unique("hb")
    assert (await stack.request("POST", "/heartbeat", {"origin": origin}))[0] == 201
    heartbeat = await eventually(lambda: stack.store.heartbeats.find_one({"origin": origin}))
    real = processor.apply_groups  # type: ignore[attr-defined]  # the name the processor calls
    failed: list[int] = []

    async def failing_once(*args: Any, **kwargs: Any) -> Any:
        items = args[1]
        if not failed and len(items) >= 1:
            failed.append(len(items))
            raise RuntimeError("a write error every message of the bulk write shares")
        return await real(*args, **kwargs)

    monkeypatch.setattr(processor, "apply_groups", failing_once)
    rpc = RpcClient(stack.connection, stack.settings)
    await rpc.start()
    received = stack.metrics.registry.get_sample_value("alertbus_heartbeats_received_total") or 0
    body = alert(unique())
    beat = {"origin": unique("beat"), "timeout": 60}
    deleted, created, beaten = await asyncio.gather(
        rpc.send_command({"op": "delete-heartbeat", "id": heartbeat["_id"], "origin": origin}, user=None),
        rpc.send_alert(body, body, user=None),
        rpc.send_heartbeat(beat, beat, user=None),
    )
    assert failed, "the batch's alert write was made to fail"
    assert (deleted.code, deleted.body) == (200, {"status": "ok"}), "applied once, answered once"
    assert created.code == 201 and created.body["alert"]["resource"] == body["resource"], "the alert, one by one"
    assert beaten.code == 201
    assert stack.metrics.registry.get_sample_value("alertbus_heartbeats_received_total") == received + 1
    assert await stack.store.heartbeats.find_one({"origin": origin}) is None
