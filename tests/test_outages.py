"""Outages of the broker and of the store, each on a small stack of its own: the broker reached through a proxy
that the test cuts (the shared RabbitMQ server is never touched), the store a process of its own that the test
stops. Clear answers while a dependency is down, never a hang or a 500, and nothing accepted lost."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
import pytest_asyncio

from services.embedded import EmbeddedStore
from services.gateway.keys import KEYRING
from shared.auth import hash_key

from .support import Stack, alert, eventually, start_stack, unique
from .support.broker import broker_proxy
from .tcp_proxy import CuttableProxy


@pytest_asyncio.fixture(scope="module")
async def behind_proxy(store_url: str) -> AsyncIterator[tuple[Stack, CuttableProxy]]:
    """Gateway and worker reach the broker through a proxy the test can cut."""
    async with broker_proxy() as (proxy, url), start_stack(store_url, AMQP_URL=url, RPC_TIMEOUT="5") as stack:
        yield stack, proxy


@pytest_asyncio.fixture(scope="module")
async def own_store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Stack, EmbeddedStore]]:
    store = EmbeddedStore(str(tmp_path_factory.mktemp("store-outage")))
    url = await store.start()
    try:
        async with start_stack(url, RPC_TIMEOUT="2") as stack:
            yield stack, store
    finally:
        store.stop()


async def stored(stack: Stack, resource: str) -> dict[str, Any] | None:
    return await stack.store.alerts.find_one({"resource": resource})


async def timed_post(stack: Stack, body: dict[str, Any], **kwargs: Any) -> tuple[int, Any, float]:
    started = time.monotonic()
    status, answer = await stack.post_alert(body, **kwargs)
    return status, answer, time.monotonic() - started


async def test_broker_outage_is_a_prompt_503_and_writes_resume_after(
        behind_proxy: tuple[Stack, CuttableProxy]) -> None:
    stack, proxy = behind_proxy
    assert (await stack.post_alert(alert(unique())))[0] == 201
    resources = [unique("burst") for _ in range(20)]
    # A burst in flight when the broker goes: every request is answered at once, as accepted (201/202: the
    # message was confirmed) or refused (503: it was not), never left hanging until a timeout.
    burst = asyncio.gather(*(timed_post(stack, alert(r)) for r in resources))
    await asyncio.sleep(0.05)
    await proxy.cut()
    answers = await burst
    assert {status for status, _, _ in answers} <= {201, 202, 503}, answers
    assert max(took for _, _, took in answers) < 3.0, answers
    # While it is down: 503 at once, on both paths, naming the broker.
    for headers in (None, {"Prefer": "respond-async"}):
        status, body, took = await timed_post(stack, alert(unique()), headers=headers)
        assert status == 503 and "broker" in body["message"] and took < 1.0, (status, body, took)
    # Readiness says so too: the robust connection is reconnecting (not closed), and nothing goes through it.
    status, body = await stack.request("GET", "/management/gtg", auth=False)
    assert status == 503 and "broker connection down" in str(body), (status, body)
    await proxy.restore()

    async def written() -> bool:  # the gateway reconnected, and the worker consumes again (201 needs both)
        return (await stack.post_alert(alert(unique())))[0] == 201

    await eventually(written, timeout=20, interval=0.5)
    assert (await stack.request("GET", "/management/gtg", auth=False))[0] == 200
    for resource, (status, _, _) in zip(resources, answers, strict=True):
        if status in (201, 202):
            await eventually(partial(stored, stack, resource), timeout=20)


async def test_store_outage_keeps_known_keys_accepting_and_answers_503_elsewhere(
        own_store: tuple[Stack, EmbeddedStore]) -> None:
    stack, store = own_store
    status, created = await stack.request("POST", "/key", {"user": "producer", "scopes": ["write"]})
    assert status == 201
    key = {"Authorization": f"Key {created['key']}"}
    status, first = await stack.post_alert(alert(unique()), headers=key)
    assert status == 201  # the key is now known to this gateway
    keyring = stack.runners[-1].app[KEYRING]
    store.stop()
    try:
        # Its cache entry has run out: the gateway asks the store, which is down, and keeps the last answer.
        digest = hash_key(created["key"])
        keyring.cache[digest] = (0.0, keyring.cache[digest][1])
        queued = alert(unique())
        (accepted, body), (unknown, refusal), (command, command_body) = await asyncio.gather(
            stack.post_alert(queued, headers=key),
            stack.post_alert(alert(unique()), headers={"Authorization": "Key never-seen-" + uuid.uuid4().hex}),
            stack.request("PUT", f"/alert/{first['id']}/status", {"status": "ack"}),
        )
        assert accepted == 202, body  # queued: the worker cannot write until the store is back
        assert unknown == 503 and "store" in refusal["message"], refusal
        assert command == 503 and "store" in command_body["message"], command_body
    finally:
        await store.start()
    assert await eventually(lambda: stored(stack, queued["resource"]), timeout=30)


async def test_worker_stops_promptly_while_the_store_is_down_and_loses_nothing(
        own_store: tuple[Stack, EmbeddedStore]) -> None:
    stack, store = own_store
    worker = stack.workers[0]
    store.stop()
    try:
        resources = [unique("held") for _ in range(5)]
        for resource in resources:  # queued: the worker holds them, retrying while the store is down
            status, _ = await stack.post_alert(alert(resource), headers={"Prefer": "respond-async"})
            assert status == 202
        await asyncio.sleep(1.0)
        started = time.monotonic()
        await worker.stop(grace=10)
        took = time.monotonic() - started
        stack.workers.remove(worker)
        assert took < 8.0, f"stop waited {took:.1f}s on the store"
    finally:
        await store.start()
    await stack.start_worker()  # the messages it gave back are applied by its successor
    for resource in resources:
        doc = await eventually(partial(stored, stack, resource), timeout=30)
        assert doc["duplicateCount"] == 0


async def test_gateway_shutdown_answers_waiting_callers_at_once(store_url: str) -> None:
    """A POST /alert waiting for a reply that will not come (no worker runs) when the gateway stops: it gets
    202 (its message is queued) within the shutdown's short reply wait, not a dropped connection or a wait for
    RPC_TIMEOUT; the next worker applies it."""
    async with start_stack(store_url, RPC_TIMEOUT="30") as stack:
        worker = stack.workers.pop()
        await worker.stop(grace=1)
        body = alert(unique())
        waiting = asyncio.create_task(timed_post(stack, body))
        await asyncio.sleep(0.5)
        gateway = stack.runners.pop()
        await gateway.cleanup()
        status, answer, took = await waiting
        assert status == 202 and answer["id"], answer
        assert took < 5.0, f"answered after {took:.1f}s"
        await stack.start_worker()
        assert await eventually(lambda: stored(stack, body["resource"]), timeout=20)
