"""The outbound PagerDuty notifier against a local HTTP receiver standing in for the Events API v2.

A stack of its own (its own BROKER_PREFIX and database, ingest worker, gateway and hooks service) with
PAGERDUTY_* set and short retry delays: alert changes become trigger / acknowledge / resolve events, 429 and 5xx
answers are retried through the broker's delay queue, and a notification that never gets through ends in the
dead-letter queue."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import pytest
import pytest_asyncio
from aiohttp import web

from services.embedded import free_port
from services.hooks.notifier import ATTEMPT_HEADER
from shared.broker import Names

from .support import Stack, alert, eventually, serving, start_stack, unique

ROUTING_KEY = "R0UT1NGKEY0000000000000000000000"
RETRY_DELAY_MS, MAX_ATTEMPTS = 150, 4
Answer = Callable[[dict[str, Any]], int]


def accepted(_: dict[str, Any]) -> int:
    return 202


@dataclass
class Receiver:
    """Records every Events API call; ``answers`` (by the alert's resource, for triggers) scripts the codes."""

    url: str = ""
    calls: list[tuple[float, dict[str, Any], int]] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)

    async def enqueue(self, request: web.Request) -> web.Response:
        body = await request.json()
        resource = (body.get("payload") or {}).get("source", "")
        code = self.answers.get(resource, accepted)(body)
        self.calls.append((time.monotonic(), body, code))
        if code >= 300:
            return web.json_response({"status": "throttled" if code == 429 else "error"}, status=code)
        return web.json_response({"status": "success", "message": "Event processed",
                                  "dedup_key": body["dedup_key"]}, status=202)

    def for_alert(self, alert_id: str) -> list[tuple[float, dict[str, Any], int]]:
        return [call for call in self.calls if call[1]["dedup_key"] == alert_id]

    def actions(self, alert_id: str) -> list[tuple[str, int]]:
        return [(body["event_action"], code) for _, body, code in self.for_alert(alert_id)]


@pytest_asyncio.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/v2/enqueue", rec.enqueue)
    async with serving(app, free_port()) as url:
        rec.url = f"{url}/v2/enqueue"
        yield rec


@pytest_asyncio.fixture(scope="module")
async def paging(store_url: str, receiver: Receiver) -> AsyncIterator[Stack]:
    async with start_stack(
        store_url, with_hooks=True, PAGERDUTY_ROUTING_KEY=ROUTING_KEY, PAGERDUTY_EVENTS_URL=receiver.url,
        PAGERDUTY_FILTER="environment=Production,severity=critical|major", PAGERDUTY_RETRY_DELAY_MS=RETRY_DELAY_MS,
        PAGERDUTY_MAX_ATTEMPTS=MAX_ATTEMPTS,
    ) as stack:
        yield stack


def notifications(stack: Stack, outcome: str) -> float:
    return stack.metrics.registry.get_sample_value("alertbus_pagerduty_notifications_total",
                                                   {"outcome": outcome}) or 0.0


async def page(stack: Stack, resource: str, **extra: Any) -> str:
    status, body = await stack.post_alert(alert(resource, severity="critical", **extra))
    assert status == 201, body
    return str(body["id"])


async def test_alert_life_cycle_triggers_acknowledges_and_resolves(paging: Stack, receiver: Receiver) -> None:
    alert_id = await page(paging, unique("web"))
    await eventually(lambda: _async(receiver.actions(alert_id) == [("trigger", 202)]))
    _, trigger, _ = receiver.for_alert(alert_id)[0]
    assert (trigger["routing_key"], trigger["dedup_key"], trigger["client"]) == (ROUTING_KEY, alert_id, "alertbus")
    assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["summary"].startswith("[Production]")
    assert (await paging.request("PUT", f"/alert/{alert_id}/action", {"action": "ack"}))[0] == 200
    assert (await paging.request("PUT", f"/alert/{alert_id}/action", {"action": "close"}))[0] == 200
    expected = [("trigger", 202), ("acknowledge", 202), ("resolve", 202)]
    await eventually(lambda: _async(receiver.actions(alert_id) == expected))
    assert receiver.for_alert(alert_id)[-1][1] == {"routing_key": ROUTING_KEY, "event_action": "resolve",
                                                   "dedup_key": alert_id}


async def test_deleting_an_alert_resolves_its_incident(paging: Stack, receiver: Receiver) -> None:
    alert_id = await page(paging, unique("web"))
    await eventually(lambda: _async(receiver.actions(alert_id) == [("trigger", 202)]))
    assert (await paging.request("DELETE", f"/alert/{alert_id}"))[0] == 200
    await eventually(lambda: _async(receiver.actions(alert_id) == [("trigger", 202), ("resolve", 202)]))


async def test_filter_selects_what_pages(paging: Stack, receiver: Receiver) -> None:
    quiet = [await page(paging, unique("dev"), environment="Development"),
             (await paging.post_alert(alert(unique("minor"), severity="minor")))[1]["id"]]
    loud = await page(paging, unique("web"))
    # One message at a time, in order: once the later alert was sent, the earlier ones were decided.
    await eventually(lambda: _async(receiver.actions(loud) == [("trigger", 202)]))
    assert all(receiver.for_alert(alert_id) == [] for alert_id in quiet)


async def test_429_is_retried_through_the_broker_with_backoff(paging: Stack, receiver: Receiver) -> None:
    resource = unique("busy")
    codes = iter([429, 503])
    receiver.answers[resource] = lambda _: next(codes, 202)
    retried = notifications(paging, "retried")
    alert_id = await page(paging, resource)
    expected = [("trigger", 429), ("trigger", 503), ("trigger", 202)]
    await eventually(lambda: _async(receiver.actions(alert_id) == expected))
    times = [at for at, _, _ in receiver.for_alert(alert_id)]
    assert times[1] - times[0] >= RETRY_DELAY_MS / 1000 * 0.9  # first retry after the base delay ...
    assert times[2] - times[1] >= 2 * RETRY_DELAY_MS / 1000 * 0.9  # ... the next one after twice that
    assert notifications(paging, "retried") - retried == 2


async def test_notification_that_never_gets_through_is_dead_lettered(paging: Stack, receiver: Receiver) -> None:
    resource = unique("down")
    receiver.answers[resource] = lambda _: 500
    alert_id = await page(paging, resource)
    dead = await eventually(lambda: _dead_letter(paging, alert_id), timeout=20)
    assert dead.headers[ATTEMPT_HEADER] == MAX_ATTEMPTS
    assert [code for _, code in receiver.actions(alert_id)] == [500] * MAX_ATTEMPTS


async def test_refused_notification_is_dead_lettered_at_once(paging: Stack, receiver: Receiver) -> None:
    resource = unique("bad")
    receiver.answers[resource] = lambda _: 400
    alert_id = await page(paging, resource)
    dead = await eventually(lambda: _dead_letter(paging, alert_id), timeout=20)
    assert ATTEMPT_HEADER not in (dead.headers or {})
    assert receiver.actions(alert_id) == [("trigger", 400)]


async def test_stale_retry_does_not_reopen_a_resolved_incident(paging: Stack, receiver: Receiver) -> None:
    resource = unique("flappy")
    receiver.answers[resource] = lambda _: 429  # every trigger of this alert is throttled
    stale = notifications(paging, "stale")
    alert_id = await page(paging, resource)
    await eventually(lambda: _async(bool(receiver.for_alert(alert_id))), interval=0.01)
    assert (await paging.request("PUT", f"/alert/{alert_id}/action", {"action": "close"}))[0] == 200
    await eventually(lambda: _async(notifications(paging, "stale") > stale))
    actions = receiver.actions(alert_id)
    assert ("resolve", 202) in actions
    assert all(code == 429 for action, code in actions if action == "trigger")
    assert actions[-1] == ("resolve", 202)  # nothing was sent after the resolve


async def test_no_notifier_without_a_routing_key(stack: Stack) -> None:
    channel = await stack.connection.channel()
    with pytest.raises(aio_pika.exceptions.ChannelClosed):
        await channel.declare_queue(Names.from_settings(stack.settings).pagerduty, passive=True)


async def _async(value: Any) -> Any:
    return value


async def _dead_letter(stack: Stack, alert_id: str) -> aio_pika.abc.AbstractIncomingMessage | None:
    """The dead-lettered notification of the alert, if it is there (others are put back)."""
    channel = await stack.connection.channel()
    try:
        queue = await channel.declare_queue(Names.from_settings(stack.settings).dead, passive=True)
        found, others = None, []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            if json.loads(message.body)["alert"]["id"] == alert_id:
                await message.ack()
                found = message
            else:
                others.append(message)
        for message in others:
            await message.nack(requeue=True)
        return found
    finally:
        await asyncio.shield(channel.close())
