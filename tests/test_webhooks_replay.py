"""Replayed PagerDuty webhooks have no effect, through the real pipeline (gateway -> hooks -> RabbitMQ -> ingest ->
store) with two hooks replicas sharing the store: a signed body is applied once within PAGERDUTY_REPLAY_WINDOW,
refused outside it, and a delivery that failed is not remembered (PagerDuty's retry applies it)."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from pymongo.errors import OperationFailure

from services import gateway, hooks
from services.embedded import free_port
from services.hooks.keys import RPC
from services.hooks.payloads import sign
from services.hooks.replay import StaleEvent, replay_stamp
from shared.schemas import BadInput
from shared.store.webhook_events import COLLECTION, EventStamp, remembered_until

from .support import Stack, created, fetch, serving
from .support.webhooks import pd_v1, pd_v3, post_signed

SECRET = "whsec-replay-" + uuid.uuid4().hex
WINDOW = timedelta(seconds=600)  # the default PAGERDUTY_REPLAY_WINDOW, which the stack runs with
PATH = "/webhooks/pagerduty"


def iso(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the time and id checks: pure ----------------------------------------------------------------------------------

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_signed_event_is_stamped_by_id_and_time_within_the_window() -> None:
    body = pd_v3("incident.resolved", "k", event_id="EV1", occurred_at="2026-05-01T11:55:00Z")
    stamp = replay_stamp(body, signed=True, now=NOW, window=WINDOW)
    occurred = datetime(2026, 5, 1, 11, 55, tzinfo=UTC)
    assert stamp == EventStamp("EV1", occurred)
    assert remembered_until(stamp, NOW, WINDOW) >= occurred + WINDOW  # kept while it could pass the check
    later = NOW + timedelta(seconds=50)  # PagerDuty's clock ahead of ours
    assert remembered_until(EventStamp("EV2", later), NOW, WINDOW) >= later + WINDOW


@pytest.mark.parametrize("occurred_at", ["2026-05-01T11:49:59Z", "2026-05-01T12:01:01Z", "2020-10-02T18:45:22Z"])
def test_a_signed_event_outside_the_window_is_stale(occurred_at: str) -> None:
    with pytest.raises(StaleEvent, match="EV1"):
        replay_stamp(pd_v3("incident.resolved", "k", event_id="EV1", occurred_at=occurred_at), signed=True,
                     now=NOW, window=WINDOW)


@pytest.mark.parametrize("body", [
    pd_v1("incident.resolve", "k"),  # v1 bodies carry no event id PagerDuty signs
    {"event": {**pd_v3("incident.resolved", "k")["event"], "id": None}},
    {"event": {**pd_v3("incident.resolved", "k")["event"], "id": "x" * 129}},
    {"event": {**pd_v3("incident.resolved", "k")["event"], "occurred_at": None}},
    {"event": {**pd_v3("incident.resolved", "k")["event"], "occurred_at": "yesterday"}},
])
def test_a_signed_body_needs_an_event_id_and_time(body: dict[str, Any]) -> None:
    with pytest.raises(BadInput) as raised:
        replay_stamp(body, signed=True, now=NOW, window=WINDOW)
    assert not isinstance(raised.value, StaleEvent)


def test_an_unsigned_event_is_stamped_by_id_only() -> None:
    old = pd_v3("incident.resolved", "k", event_id="EV3", occurred_at="2020-10-02T18:45:22Z")
    assert replay_stamp(old, signed=False, now=NOW, window=WINDOW) == EventStamp("EV3", None)
    assert replay_stamp(pd_v1("incident.resolve", "k"), signed=False, now=NOW, window=WINDOW) is None
    with pytest.raises(BadInput, match="event.id"):
        replay_stamp({"event": {"id": 7}}, signed=False, now=NOW, window=WINDOW)


# -- through the stack ---------------------------------------------------------------------------------------------

@asynccontextmanager
async def replica(stack: Stack) -> AsyncIterator[tuple[str, web.Application]]:
    """A gateway and a hooks service with the webhook secret, on the stack's broker and store."""
    hooks_port = free_port()
    settings = stack.settings.with_(
        gateway={"port": free_port(), "hooks_url": f"http://127.0.0.1:{hooks_port}"},
        hooks={"port": hooks_port, "pagerduty_webhook_secret": SECRET})
    app = hooks.create_app(settings)
    async with serving(app, hooks_port), serving(gateway.create_app(settings), settings.gateway.port) as url:
        yield f"{url}{PATH}", app


@pytest_asyncio.fixture(scope="module")
async def replicas(stack: Stack) -> AsyncIterator[tuple[str, str]]:
    async with replica(stack) as (first, _), replica(stack) as (second, _):
        yield first, second


def signed_event(kind: str, alert_id: str, number: int, **kwargs: Any) -> tuple[bytes, str]:
    raw = json.dumps(pd_v3(kind, alert_id, number=number, **kwargs)).encode()
    return raw, sign(SECRET, raw)


async def incident_entries(stack: Stack, alert_id: str, number: int) -> list[str]:
    """The statuses of the history entries the incident's webhooks added."""
    return [entry["status"] for entry in (await fetch(stack, alert_id))["history"]
            if f"#{number}<" in (entry.get("text") or "")]


async def remembered(stack: Stack, event_id: str) -> dict[str, Any] | None:
    return await stack.store.db[COLLECTION].find_one({"_id": event_id})


def incident() -> int:
    return random.randrange(10**6, 10**7)


async def test_a_replayed_signed_event_has_no_effect_on_any_replica(stack: Stack, replicas: tuple[str, str]) -> None:
    alert_id, number = await created(stack), incident()
    ack, ack_signature = signed_event("incident.acknowledged", alert_id, number)
    assert await post_signed(replicas[0], ack, ack_signature) == (200, {"status": "ok"})
    reopen, reopen_signature = signed_event("incident.unacknowledged", alert_id, number)
    assert (await post_signed(replicas[1], reopen, reopen_signature))[0] == 200
    for url in replicas:  # the captured acknowledgement, sent again to each replica
        status, body = await post_signed(url, ack, ack_signature)
        assert status == 200 and "processed already" in body["message"], body
    assert (await fetch(stack, alert_id))["status"] == "open"
    assert await incident_entries(stack, alert_id, number) == ["ack", "open"]
    doc = await remembered(stack, json.loads(ack)["event"]["id"])
    assert doc is not None and doc["state"] == "done"
    assert doc["expiresAt"] > datetime.now(UTC) + WINDOW - timedelta(seconds=30)


async def test_one_event_delivered_to_both_replicas_at_once_is_applied_once(stack: Stack,
                                                                            replicas: tuple[str, str]) -> None:
    alert_id, number = await created(stack), incident()
    raw, signature = signed_event("incident.acknowledged", alert_id, number)
    answers = await asyncio.gather(*(post_signed(url, raw, signature) for url in replicas * 3))
    assert sorted(status for status, _ in answers)[0] == 200
    assert {status for status, _ in answers} <= {200, 409}, answers  # 409: being applied elsewhere, retry later
    assert [body for _, body in answers].count({"status": "ok"}) == 1, answers
    assert await incident_entries(stack, alert_id, number) == ["ack"]


async def test_signed_events_outside_the_window_are_refused(stack: Stack, replicas: tuple[str, str]) -> None:
    alert_id, number = await created(stack), incident()
    now = datetime.now(UTC)
    for when, words in ((now - WINDOW - timedelta(seconds=30), "PAGERDUTY_REPLAY_WINDOW"),
                        (now + timedelta(minutes=10), "future")):
        raw, signature = signed_event("incident.resolved", alert_id, number, occurred_at=iso(when))
        status, body = await post_signed(replicas[0], raw, signature)
        assert status == 400 and words in body["message"], body
        assert await remembered(stack, json.loads(raw)["event"]["id"]) is None
    raw, signature = signed_event("incident.resolved", alert_id, number, occurred_at="2020-10-02T18:45:22.169Z")
    assert (await post_signed(replicas[1], raw, signature))[0] == 400  # PagerDuty's documented sample, years old
    raw = json.dumps(pd_v1("incident.resolve", alert_id, number=number)).encode()
    status, body = await post_signed(replicas[0], raw, sign(SECRET, raw))
    assert status == 400 and "event.id" in body["message"]  # signed, but no v3 event id to remember it by
    assert (await fetch(stack, alert_id))["status"] == "open"


async def test_a_failed_delivery_is_not_remembered_and_the_retry_applies(stack: Stack,
                                                                         replicas: tuple[str, str]) -> None:
    alert_id, number = await created(stack), incident()
    raw, signature = signed_event("incident.acknowledged", alert_id, number)
    event_id = json.loads(raw)["event"]["id"]
    async with replica(stack) as (broken, app):
        await app[RPC].connection.close()  # this replica lost its broker: it cannot publish the change
        status, body = await post_signed(broken, raw, signature)
        assert status == 503 and "broker" in body["message"], body
    assert await remembered(stack, event_id) is None
    assert await post_signed(replicas[0], raw, signature) == (200, {"status": "ok"})  # PagerDuty's retry
    assert await incident_entries(stack, alert_id, number) == ["ack"]
    unknown = str(uuid.uuid4())  # an alert the store does not hold: 404, and the retry is answered alike
    raw, signature = signed_event("incident.acknowledged", unknown, number)
    for url in replicas:
        assert (await post_signed(url, raw, signature))[0] == 404
    assert await remembered(stack, json.loads(raw)["event"]["id"]) is None


async def test_an_expired_memory_no_longer_blocks_and_is_swept_by_its_ttl_index(stack: Stack,
                                                                                replicas: tuple[str, str]) -> None:
    alert_id, number = await created(stack), incident()
    raw, signature = signed_event("incident.acknowledged", alert_id, number)
    event_id = json.loads(raw)["event"]["id"]
    events = stack.store.db[COLLECTION]
    past = datetime.now(UTC) - timedelta(seconds=1)
    await events.insert_one({"_id": event_id, "state": "done", "token": "old", "expiresAt": past})  # not swept yet
    assert await post_signed(replicas[0], raw, signature) == (200, {"status": "ok"})
    assert await incident_entries(stack, alert_id, number) == ["ack"]
    assert (await remembered(stack, event_id) or {}).get("token") != "old"
    expiry = (await events.index_information())["expiry"]
    assert (expiry["key"], expiry["expireAfterSeconds"]) == ([("expiresAt", 1)], 0)
    stale = f"stale-{uuid.uuid4()}"
    await events.insert_one({"_id": stale, "state": "done", "token": "t", "expiresAt": past})
    try:  # SecantusDB's sweeper runs every 60 s; its admin command runs one pass now
        await stack.store.db.command({"secantusAdmin.pruneTtl": 1})
    except OperationFailure:
        pytest.skip("not SecantusDB: its TTL monitor cannot be triggered on demand")
    assert await remembered(stack, stale) is None and await remembered(stack, event_id) is not None


async def test_unsigned_events_with_an_api_key_are_applied_once_too(stack: Stack) -> None:
    alert_id, number = await created(stack), incident()
    old = pd_v3("incident.acknowledged", alert_id, number=number, occurred_at="2020-10-02T18:45:22.169Z")
    assert await stack.request("POST", PATH, old) == (200, {"status": "ok"})  # the key vouches, not the time
    status, body = await stack.request("POST", "/pagerduty", old)
    assert status == 200 and "processed already" in body["message"]
    assert await incident_entries(stack, alert_id, number) == ["ack"]
    v1 = pd_v1("incident.resolve", alert_id, number=number)  # no event id: applied as sent, as Alerta does
    for _ in range(2):
        assert await stack.request("POST", "/pagerduty", v1) == (200, {"status": "ok"})
    assert await incident_entries(stack, alert_id, number) == ["ack", "closed", "closed"]
