"""Domain errors become HTTP answers in one place (shared/responses.py) for every service: handlers raise
``BrokerUnavailable``, ``StoreUnavailable``, ``QueryTimeout`` or a worker's refusal (``Reply.raise_for_error``) and
never translate them. Through a stack of its own: its own store process (stopped by a test) and the broker reached
through a proxy (cut by a test; the shared RabbitMQ server is never touched)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from services.embedded import EmbeddedStore, free_port
from shared.broker import BrokerUnavailable
from shared.http import REQUEST_ID, make_middlewares
from shared.metrics import Metrics
from shared.replies import Reply, ReplyError
from shared.responses import domain_error
from shared.schemas import BadInput
from shared.store import StoreUnavailable
from shared.store.core import QueryTimeout

from .support import (
    Stack,
    alert,
    assert_error,
    created,
    eventually,
    make_settings,
    serving,
    start_stack,
    unique,
)
from .support.broker import broker_proxy
from .tcp_proxy import CuttableProxy

Own = tuple[Stack, EmbeddedStore, CuttableProxy]


@pytest_asyncio.fixture(scope="module")
async def own(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Own]:
    store = EmbeddedStore(str(tmp_path_factory.mktemp("error-mapping")))
    url = await store.start()
    try:
        async with broker_proxy() as (proxy, amqp), start_stack(url, AMQP_URL=amqp, RPC_TIMEOUT="5") as stack:
            yield stack, store, proxy
    finally:
        store.stop()


async def test_a_query_read_with_the_store_stopped_is_a_503_from_the_query_service(own: Own) -> None:
    stack, store, _ = own
    alert_id = await created(stack)
    before = query_answers(stack)
    store.stop()
    try:
        for path in ("/alerts", f"/alert/{alert_id}", "/alerts/count", "/heartbeats"):
            status, body = await stack.request("GET", path)
            assert_error(status, body, 503, "store")  # JSON, with its request id: not a 500
    finally:
        await store.start()
    after = query_answers(stack)
    assert after.get("503", 0) - before.get("503", 0) == 4  # the query service answered so, not the gateway
    assert after.get("500", 0) == before.get("500", 0)

    async def readable() -> bool:
        return (await stack.request("GET", f"/alert/{alert_id}"))[0] == 200

    await eventually(readable, timeout=30, interval=0.5)


def query_answers(stack: Stack) -> dict[str, float]:
    """The query service's answers so far, by status code."""
    counts: dict[str, float] = {}
    for family in stack.metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "alertbus_http_requests_total" and sample.labels["service"] == "query":
                counts[sample.labels["code"]] = counts.get(sample.labels["code"], 0) + sample.value
    return counts


async def test_writes_while_the_broker_is_down_are_503s(own: Own) -> None:
    stack, _, proxy = own
    alert_id = await created(stack)
    await proxy.cut()
    try:
        answers = [
            await stack.post_alert(alert(unique())),
            await stack.post_alert(alert(unique()), headers={"Prefer": "respond-async"}),
            await stack.request("POST", "/heartbeat", {"origin": unique("origin")}),
            await stack.request("PUT", f"/alert/{alert_id}/status", {"status": "ack"}),
        ]
        for (status, body), kind in zip(answers, ("alert", "alert", "heartbeat", "command"), strict=True):
            assert_error(status, body, 503, "message broker unavailable", kind)
    finally:
        await proxy.restore()

    async def writable() -> bool:
        return (await stack.post_alert(alert(unique())))[0] == 201

    await eventually(writable, timeout=30, interval=0.5)


async def test_a_workers_refusal_is_answered_with_its_code_and_message(own: Own) -> None:
    stack, _, _ = own
    alert_id = await created(stack)
    # Valid for the gateway, refused by the worker that applies it: the alarm model allows no unack of an open alert.
    status, body = await stack.request("PUT", f"/alert/{alert_id}/action", {"action": "unack"})
    assert_error(status, body, 409, "invalid action for current open status")
    # Two deletes that both found the alert: the worker applies one and answers the other 404 (or, should the
    # second request look after the first was applied, the gateway does).
    statuses = await asyncio.gather(*(stack.request("DELETE", f"/alert/{alert_id}") for _ in range(2)))
    (ok, _), (missing, refusal) = sorted(statuses, key=lambda answer: answer[0])
    assert ok == 200
    assert_error(missing, refusal, 404, "not found")


@pytest.mark.parametrize(("error", "code", "words"), [
    (BrokerUnavailable("the broker refused the alert"), 503, "message broker unavailable: the broker refused"),
    (StoreUnavailable[0]("no servers"), 503, "the store is unavailable"),
    (QueryTimeout(), 503, str(QueryTimeout())),
    (BadInput("bad", {"field": "why"}), 400, "bad"),
    (ReplyError(412, "precondition failed", {"x": 1}), 412, "precondition failed"),
])
async def test_every_service_maps_a_domain_error_to_its_json_answer(error: Exception, code: int, words: str) -> None:
    """The shared middlewares (every service has them; here on a bare app) render what a handler raised."""

    async def handler(request: web.Request) -> web.StreamResponse:
        raise error

    settings = make_settings("mongodb://127.0.0.1:1/unused")
    app = web.Application(middlewares=make_middlewares("test", Metrics(), settings))
    app.router.add_get("/", handler)
    port = free_port()
    async with serving(app, port) as url, aiohttp.ClientSession() as session, session.get(url) as response:
        body = await response.json()
        assert response.content_type == "application/json"
        assert body["requestId"] == response.headers[REQUEST_ID]
    assert_error(response.status, body, code, words)
    assert body["errors"] == domain_error(error)[2]


def test_a_reply_raises_its_own_error() -> None:
    refused = Reply("id-1", "command", 409, {"status": "error", "message": "alert is already in ack status",
                                             "errors": None})
    with pytest.raises(ReplyError) as caught:
        refused.raise_for_error()
    assert (caught.value.code, caught.value.message) == (409, "alert is already in ack status")
    created_ = Reply("id-2", "alert", 201, {"status": "ok", "id": "id-2"})
    assert created_.raise_for_error() is created_ and created_.status == 201 and not created_.queued
    queued = Reply("id-3", "alert")
    assert queued.raise_for_error() is queued and queued.queued and queued.status == 202
    with pytest.raises(ReplyError, match="rejected"):  # a refusal without a message still says what it was
        Reply("id-4", "alert", 403, {}).raise_for_error()
