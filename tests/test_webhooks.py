"""Webhooks through the real pipeline: gateway (auth, forwarding) -> hooks service -> RabbitMQ -> ingest -> store.

PagerDuty v1 and v3 bodies change an alert's status (with a history entry and an ``incident=#N`` tag);
Alertmanager batches open and close alerts, all or nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from services import gateway, hooks
from services.embedded import free_port
from services.hooks.payloads import sign

from .support import ADMIN_KEY, Stack, created, eventually, fetch, serving, unique
from .support.webhooks import alertmanager, am_alert, pd_v1, pd_v1_message, pd_v3, post_signed

SECRET = "whsec-" + uuid.uuid4().hex


async def make_key(stack: Stack, scope: str) -> str:
    status, body = await stack.request("POST", "/key", {"user": unique("hook"), "scopes": [scope]})
    assert status == 201, body
    return str(body["key"])


@pytest.mark.parametrize("path", ["/pagerduty", "/webhooks/pagerduty", "/api/pagerduty", "/api/webhooks/pagerduty"])
async def test_pagerduty_v1_acknowledge_sets_status_history_and_tag(stack: Stack, path: str) -> None:
    alert_id = await created(stack)
    status, body = await stack.request("POST", path, pd_v1("incident.acknowledge", alert_id, number=2126))
    assert (status, body) == (200, {"status": "ok"})
    doc = await fetch(stack, alert_id)
    assert doc["status"] == "ack" and "incident=#2126" in doc["tags"]
    last = doc["history"][-1]
    assert (last["type"], last["status"], last["user"]) == ("status", "ack", "admin")
    assert last["text"] == ('Incident <a href="https://webdemo.pagerduty.com/incidents/PRORDTY">#2126</a> '
                            "acknowledged by Laura Haley")


async def test_pagerduty_v1_batch_is_applied_in_order(stack: Stack) -> None:
    alert_id = await created(stack)
    body = {"messages": [pd_v1_message("incident.acknowledge", alert_id),
                         pd_v1_message("incident.resolve", alert_id, assigned=None, resolved="Wiley Jacobson")]}
    assert (await stack.request("POST", "/pagerduty", body))[0] == 200
    doc = await fetch(stack, alert_id)
    assert doc["status"] == "closed"
    assert [h["status"] for h in doc["history"]][-2:] == ["ack", "closed"]
    assert doc["history"][-1]["text"].endswith("resolved by Wiley Jacobson")


async def test_pagerduty_v3_events_change_the_alert(stack: Stack) -> None:
    alert_id = await created(stack)
    short = alert_id[:8]  # incident keys are looked up like GET /alert/{id}
    assert (await stack.request("POST", "/webhooks/pagerduty", pd_v3("incident.acknowledged", short, number=7)))[0] \
        == 200
    assert (await fetch(stack, alert_id))["status"] == "ack"
    assert (await stack.request("POST", "/webhooks/pagerduty", pd_v3("incident.resolved", alert_id, number=7)))[0] \
        == 200
    doc = await fetch(stack, alert_id)
    assert doc["status"] == "closed" and doc["tags"].count("incident=#7") == 1
    assert doc["history"][-1]["text"].endswith("resolved by Tenex Engineer")


async def test_pagerduty_v3_event_without_status_is_ignored(stack: Stack) -> None:
    alert_id = await created(stack)
    status, body = await stack.request("POST", "/webhooks/pagerduty", pd_v3("incident.annotated", alert_id))
    assert status == 200 and body["status"] == "ok" and "ignored" in body["message"]
    assert (await fetch(stack, alert_id))["status"] == "open"


async def test_pagerduty_errors_are_json(stack: Stack) -> None:
    alert_id = await created(stack)
    unknown = str(uuid.uuid4())
    status, body = await stack.request("POST", "/webhooks/pagerduty", pd_v1("incident.resolve", unknown))
    assert (status, body["status"], body["message"]) == (404, "error", "not found")
    assert body["errors"] == {"incident_key": [unknown]}
    batch = {"messages": [pd_v1_message("incident.resolve", alert_id), pd_v1_message("incident.resolve", unknown)]}
    assert (await stack.request("POST", "/pagerduty", batch))[0] == 404
    assert (await fetch(stack, alert_id))["status"] == "open"  # all or nothing
    for raw, field in [(b'{"foo": 1}', "messages"), (b"{not json", "JSON"), (b"", "empty"),
                       (b'{"messages": [{"type": "incident.resolve", "data": {}}]}', "messages[0].data.incident")]:
        status, body = await stack.request("POST", "/webhooks/pagerduty", raw=raw,
                                           headers={"Content-Type": "application/json"})
        assert status == 400 and body["status"] == "error" and field in body["message"], (raw, body)


async def test_webhooks_need_a_write_key_and_accept_it_in_the_query(stack: Stack) -> None:
    alert_id = await created(stack)
    body = pd_v1("incident.acknowledge", alert_id)
    status, answer = await stack.request("POST", "/pagerduty", body, auth=False)
    assert status == 401 and answer["status"] == "error"
    reader = await make_key(stack, "read")
    assert (await stack.request("POST", f"/pagerduty?api-key={reader}", body, auth=False))[0] == 403
    writer = await make_key(stack, "write")
    assert (await stack.request("POST", f"/pagerduty?api-key={writer}", body, auth=False))[0] == 200
    status, answer = await stack.request("POST", "/pagerduty", body, auth=False,
                                         headers={"X-PagerDuty-Signature": sign("guess", json.dumps(body).encode())})
    assert status == 401  # no secret configured: a signature is no substitute for a key


# -- Alertmanager ------------------------------------------------------------------------------------

async def test_alertmanager_firing_opens_and_resolved_closes(stack: Stack) -> None:
    host = unique("node")
    firing = alertmanager(am_alert(labels={"instance": host}),
                          am_alert(labels={"instance": host, "alertname": "DiskFull", "severity": "major"}))
    status, body = await stack.request("POST", f"/webhooks/prometheus?api-key={ADMIN_KEY}", firing, auth=False)
    assert status == 201 and set(body) == {"status", "ids"}, body  # several alerts: their ids, as Alerta
    down, disk = [await fetch(stack, ident) for ident in body["ids"]]
    assert (down["resource"], down["event"], down["severity"], down["status"]) == (host, "InstanceDown",
                                                                                 "critical", "open")
    assert (disk["event"], disk["severity"], disk["service"]) == ("DiskFull", "major", ["node"])
    resolved = alertmanager(am_alert("resolved", labels={"instance": host}, ends="2024-05-01T10:05:00Z"),
                            status="resolved")
    status, body = await stack.request("POST", "/api/webhooks/prometheus", resolved)
    assert status == 201, body
    assert body["id"] == body["alert"]["id"] == down["id"]  # one alert: answered as POST /alert answers
    assert body["alert"]["href"].endswith(f"/api/alert/{down['id']}")
    doc = await fetch(stack, down["id"])
    assert (doc["status"], doc["severity"], doc["previousSeverity"]) == ("closed", "normal", "critical")
    assert (await fetch(stack, disk["id"]))["status"] == "open"


async def test_alertmanager_batch_is_refused_whole(stack: Stack) -> None:
    host = unique("node")
    bad = alertmanager(am_alert(labels={"instance": host}), {"status": "firing", "labels": {"instance": host}})
    status, body = await stack.request("POST", "/webhooks/prometheus", bad)
    assert status == 400 and "alerts[1]" in body["message"] and "alertname" in body["message"]
    staging = alertmanager(am_alert(labels={"instance": host}),
                           am_alert(labels={"instance": host, "environment": "Staging"}))
    status, body = await stack.request("POST", "/webhooks/prometheus", staging)
    assert status == 403 and "alerts[1]" in body["message"] and "[POLICY]" in body["message"]
    for raw in (b"[]", b"nope", json.dumps({"version": "4"}).encode()):
        status, body = await stack.request("POST", "/webhooks/prometheus", raw=raw)
        assert status == 400 and body["status"] == "error"
    status, body = await stack.request("POST", "/webhooks/prometheus", {"version": "4", "alerts": []})
    assert (status, body) == (201, {"status": "ok", "ids": []})  # as Alerta: nothing to do
    assert await stack.store.alerts.find_one({"resource": host}) is None  # nothing was published


async def test_alertmanager_respond_async_answers_202(stack: Stack) -> None:
    host = unique("node")
    body = alertmanager(am_alert(labels={"instance": host}))
    status, body = await stack.request("POST", "/webhooks/prometheus", body, headers={"Prefer": "respond-async"})
    assert status == 202 and len(body["ids"]) == 1

    async def stored() -> Any:
        return await stack.store.alerts.find_one({"resource": host})

    doc = await eventually(stored)
    assert doc["lastReceiveId"] == body["ids"][0]


# -- signed PagerDuty webhooks: a gateway and hooks service with PAGERDUTY_WEBHOOK_SECRET, on the same pipeline --

@pytest_asyncio.fixture(scope="module")
async def signed(stack: Stack) -> AsyncIterator[str]:
    hooks_port = free_port()
    settings = stack.settings.with_(
        gateway={"port": free_port(), "hooks_url": f"http://127.0.0.1:{hooks_port}"},
        hooks={"port": hooks_port, "pagerduty_webhook_secret": SECRET})
    async with serving(hooks.create_app(settings), hooks_port), \
            serving(gateway.create_app(settings), settings.gateway.port) as url:
        yield url


async def test_signed_pagerduty_webhook_needs_no_key(stack: Stack, signed: str) -> None:
    alert_id = await created(stack)
    raw = json.dumps(pd_v3("incident.acknowledged", alert_id)).encode()
    assert await post_signed(f"{signed}/webhooks/pagerduty", raw, sign(SECRET, raw)) == (200, {"status": "ok"})
    doc = await fetch(stack, alert_id)
    assert doc["status"] == "ack" and doc["history"][-1]["user"] == "pagerduty"


async def test_bad_signature_is_refused_and_changes_nothing(stack: Stack, signed: str) -> None:
    alert_id = await created(stack)
    raw = json.dumps(pd_v3("incident.resolved", alert_id)).encode()
    for signature in (sign("wrong", raw), "v1=", "garbage"):
        status, body = await post_signed(f"{signed}/api/webhooks/pagerduty", raw, signature)
        assert status == 401 and "X-PagerDuty-Signature" in body["message"]
    status, body = await post_signed(f"{signed}/webhooks/pagerduty", raw, None)
    assert status == 401 and "API key" in body["message"]  # unsigned: a key is needed as usual
    status, body = await post_signed(f"{signed}/webhooks/prometheus", b"{}", sign(SECRET, b"{}"))
    assert status == 401  # the signature only stands in for a key on the PagerDuty routes
    assert (await fetch(stack, alert_id))["status"] == "open"


async def test_gateway_answers_503_when_the_hooks_service_is_down(stack: Stack) -> None:
    settings = stack.settings.with_(gateway={"port": free_port(), "hooks_url": f"http://127.0.0.1:{free_port()}"})
    port = settings.gateway.port
    async with serving(gateway.create_app(settings), port) as url, aiohttp.ClientSession() as session, \
            session.post(f"{url}/webhooks/prometheus", json=alertmanager(am_alert()), headers=stack.auth) as resp:
        assert resp.status == 503 and "hooks service" in (await resp.json())["message"]
