"""A batch whose alert write fails (not a store outage: an error the whole bulk write shares) is applied again one
message at a time, to isolate the message at fault. What the batch had applied already before the failure — a
heartbeat, which is written on its own — must not be applied a second time: a heartbeat delete answered 404, a
heartbeat counted twice."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from services.ingest import processor
from shared.broker import RpcClient
from shared.store import AlertWrite, batch

from .support import Stack, alert, eventually, start_stack, unique
from .support.broker import counter, dead_letters


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


@pytest_asyncio.fixture
async def one_try(store_url: str) -> AsyncIterator[Stack]:
    # One shard, a long batch wait (the messages published together make one batch), and one try per message.
    async with start_stack(store_url, INGEST_SHARDS=1, INGEST_BATCH_WAIT_MS=500, MAX_DELIVERIES=1) as stack:
        yield stack


async def test_a_write_the_store_refuses_leaves_the_rest_of_the_batch_answered_as_applied(
        one_try: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """One alert write of a batch fails in the store (not a race): the ordered command stops there and the writes
    after it are sent again. The delete before it landed and is answered 200 (not 404, as applying it again would
    answer); the new alert is created once; the refused alert alone is dead-lettered."""
    stack = one_try
    victim = (await stack.post_alert(alert(unique("victim"))))[1]["id"]
    poison = unique("poison")
    real = batch.alert_ops

    def refusing(writes: list[AlertWrite]) -> list[Any]:
        """The poison alert's insert becomes a write the store refuses (``$inc`` of a text field, code 14)."""
        return [dataclasses.replace(op, kind="update", target={"_id": victim}, doc={"$inc": {"resource": 1}})
                if op.write is not None and writes[op.write].doc.get("resource") == poison else op
                for op in real(writes)]

    monkeypatch.setattr(batch, "alert_ops", refusing)
    await dead_letters(stack)
    rpc = RpcClient(stack.connection, stack.settings)
    await rpc.start()
    doomed = (await stack.post_alert(alert(unique("doomed"))))[1]["alert"]
    created_before = counter(stack, "alertbus_alerts_received_total", outcome="created")
    bad, good = alert(poison), alert(unique("good"))
    deleted, refused, created = await asyncio.gather(
        rpc.send_command({"op": "delete", "id": doomed["id"], "environment": doomed["environment"],
                          "resource": doomed["resource"]}, user=None),
        rpc.send_alert(bad, bad, user=None),
        rpc.send_alert(good, good, user=None),
    )
    assert (deleted.code, deleted.body) == (200, {"status": "ok"}), "applied once, answered with its outcome"
    assert created.code == 201 and created.body["alert"]["resource"] == good["resource"]
    assert refused.code == 503
    assert counter(stack, "alertbus_alerts_received_total", outcome="created") == created_before + 1
    assert await stack.store.alerts.find_one({"_id": doomed["id"]}) is None
    assert await stack.store.alerts.find_one({"resource": poison}) is None
    assert len(await dead_letters(stack)) == 1
