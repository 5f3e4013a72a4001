"""The alert pipeline end to end: HTTP → gateway → RabbitMQ → ingest → SecantusDB → query service."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika

from services.ingest.processor import direct_namespace, direct_receive_id
from shared.broker import Names, routing_key

from .support import Stack, alert, eventually, unique


async def test_new_alert_is_created_with_alerta_defaults(stack: Stack) -> None:
    resource = unique()
    status, body = await stack.post_alert(alert(resource, correlate=["NodeDown", "NodeUp"]))
    assert status == 201, body
    created = body["alert"]
    assert body["id"] == created["id"] == created["lastReceiveId"]
    assert created["status"] == "open"
    assert created["duplicateCount"] == 0 and created["repeat"] is False
    assert created["previousSeverity"] == "indeterminate"
    assert created["trendIndication"] == "moreSevere"
    assert created["group"] == "Misc" and created["timeout"] == 86400
    assert created["href"].endswith(f"/alert/{created['id']}")
    assert [h["type"] for h in created["history"]] == ["new"]
    status, fetched = await stack.request("GET", f"/alert/{created['id']}")
    assert status == 200 and fetched["alert"]["resource"] == resource


async def test_duplicate_increments_count_and_keeps_id(stack: Stack) -> None:
    resource = unique()
    _, first = await stack.post_alert(alert(resource))
    _, second = await stack.post_alert(alert(resource, value="2"))
    dup = second["alert"]
    assert dup["id"] == first["id"]
    assert dup["duplicateCount"] == 1 and dup["repeat"] is True
    assert dup["lastReceiveId"] != first["alert"]["lastReceiveId"]
    assert dup["value"] == "2"
    # the new receive id finds the alert too, as does an 8-character prefix
    status, by_receive = await stack.request("GET", f"/alert/{dup['lastReceiveId']}")
    assert status == 200 and by_receive["alert"]["id"] == first["id"]
    status, by_prefix = await stack.request("GET", f"/api/alert/{first['id'][:8]}")
    assert status == 200 and by_prefix["alert"]["duplicateCount"] == 1


async def test_severity_change_correlates_with_trend_and_resets_count(stack: Stack) -> None:
    resource = unique()
    _, first = await stack.post_alert(alert(resource, severity="minor"))
    await stack.post_alert(alert(resource, severity="minor"))
    _, changed = await stack.post_alert(alert(resource, severity="critical"))
    doc = changed["alert"]
    assert doc["id"] == first["id"]
    assert doc["severity"] == "critical" and doc["previousSeverity"] == "minor"
    assert doc["trendIndication"] == "moreSevere"
    assert doc["duplicateCount"] == 0 and doc["repeat"] is False
    _, lower = await stack.post_alert(alert(resource, severity="warning"))
    assert lower["alert"]["trendIndication"] == "lessSevere"
    assert lower["alert"]["previousSeverity"] == "critical"
    assert [h["type"] for h in lower["alert"]["history"]] == ["new", "severity", "severity"]


async def test_correlation_uses_the_stored_correlate_list(stack: Stack) -> None:
    resource = unique()
    _, down = await stack.post_alert(alert(resource, "NodeDown", correlate=["NodeDown", "NodeUp"]))
    _, up = await stack.post_alert(alert(resource, "NodeUp", "normal"))
    assert up["alert"]["id"] == down["id"]
    assert up["alert"]["event"] == "NodeUp" and up["alert"]["status"] == "closed"
    # an event the stored alert does not list creates a new alert
    _, other = await stack.post_alert(alert(resource, "DiskFull", correlate=["NodeDown"]))
    assert other["alert"]["id"] != down["id"]


async def test_normal_closes_and_more_severe_reopens(stack: Stack) -> None:
    resource = unique()
    _, opened = await stack.post_alert(alert(resource, severity="major"))
    assert opened["alert"]["status"] == "open"
    _, closed = await stack.post_alert(alert(resource, severity="ok"))
    assert closed["alert"]["status"] == "closed"
    _, dup_closed = await stack.post_alert(alert(resource, severity="ok"))
    assert dup_closed["alert"]["status"] == "closed" and dup_closed["alert"]["duplicateCount"] == 1
    _, reopened = await stack.post_alert(alert(resource, severity="warning"))
    assert reopened["alert"]["status"] == "open" and reopened["alert"]["id"] == opened["id"]
    assert reopened["alert"]["trendIndication"] == "moreSevere"


async def test_new_normal_alert_is_closed(stack: Stack) -> None:
    status, body = await stack.post_alert({"resource": unique(), "event": "Ping", "environment": "Development",
                                           "service": ["Web"]})
    assert status == 201 and body["alert"]["severity"] == "normal" and body["alert"]["status"] == "closed"


async def test_heartbeat_upsert_by_origin_keeps_id(stack: Stack) -> None:
    origin = unique("origin")
    status, first = await stack.request("POST", "/heartbeat", {"origin": origin, "tags": ["a"], "timeout": 60})
    assert status == 201, first
    hb = first["heartbeat"]
    assert hb["origin"] == origin and hb["type"] == "Heartbeat" and hb["status"] == "ok"
    status, second = await stack.request("POST", "/api/heartbeat", {"origin": origin, "tags": ["b"]})
    assert status == 201 and second["id"] == first["id"]
    assert second["heartbeat"]["tags"] == ["b"] and second["heartbeat"]["timeout"] == 86400
    status, fetched = await stack.request("GET", f"/heartbeat/{first['id']}")
    assert status == 200 and fetched["heartbeat"]["origin"] == origin


async def test_rejected_environment_answers_403_with_policy_message(stack: Stack) -> None:
    status, body = await stack.post_alert(alert(unique(), environment="Staging"))
    assert status == 403
    assert body["message"] == "[POLICY] Alert environment does not match one of Production, Development"
    status, body = await stack.post_alert(alert(unique(), service=[]))
    assert status == 403 and body["message"] == "[POLICY] Alert must define a service"


async def test_policy_refuses_before_a_202_so_that_every_202_is_stored(stack: Stack) -> None:
    resource = unique()
    status, body = await stack.post_alert(alert(resource, environment="$where"), headers={"Prefer": "respond-async"})
    assert status == 403 and body["message"].startswith("[POLICY] Alert environment")
    assert await stack.store.alerts.count_documents({"resource": resource}) == 0


async def test_async_write_answers_202_and_is_stored(stack: Stack) -> None:
    resource = unique()
    status, body = await stack.post_alert(alert(resource), headers={"Prefer": "respond-async"})
    assert status == 202 and body["status"] == "ok"

    async def stored() -> bool:
        code, _ = await stack.request("GET", f"/alert/{body['id']}")
        return code == 200

    await eventually(stored)


async def test_direct_amqp_publish_is_stored(stack: Stack) -> None:
    resource = unique()
    payload = alert(resource, severity="critical")
    message_id = str(uuid.uuid4())
    # An unsigned message's id is derived from its message_id (never taken as it is: see processor.Senders).
    receive_id = direct_receive_id(direct_namespace(stack.settings.service_secret), None, message_id)
    channel = await stack.connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(Names.from_settings(stack.settings).ingest)
    await exchange.publish(
        aio_pika.Message(json.dumps(payload).encode(), content_type="application/json", type="alert",
                         message_id=message_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key=f"Production/{resource}",
    )
    await channel.close()

    async def stored() -> dict[str, Any] | None:
        code, body = await stack.request("GET", f"/alert/{receive_id}")
        return body["alert"] if code == 200 else None

    doc = await eventually(stored)
    assert doc["id"] == receive_id and doc["severity"] == "critical" and doc["resource"] == resource
    assert doc["history"][0]["user"] == "amqp"
    assert routing_key("alert", payload) == f"Production/{resource}"


async def test_fifty_concurrent_duplicates_make_one_alert(stack: Stack) -> None:
    body = alert(unique())
    results = await asyncio.gather(*(stack.post_alert(body) for _ in range(50)))
    assert {status for status, _ in results} == {201}
    assert len({reply["id"] for _, reply in results}) == 1
    docs = await stack.store.alerts.find({"resource": body["resource"]}).to_list(None)
    assert len(docs) == 1 and docs[0]["duplicateCount"] == 49
