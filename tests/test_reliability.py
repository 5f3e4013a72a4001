"""Races between workers, the dead-letter queue, and redelivery — against the real broker and store."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from shared.broker import Names

from .support import Stack, alert, eventually, unique
from .support.broker import counter, dead_letters, direct_id, publish


async def stored_count(stack: Stack, resource: str) -> list[dict[str, Any]]:
    return await stack.store.alerts.find({"resource": resource}).to_list(None)


async def test_two_workers_racing_on_one_alert_make_one_document(stack: Stack) -> None:
    if len(stack.workers) < 2:
        second = await stack.start_worker()
        first = stack.workers[0]

        async def shared() -> bool:  # the workers split the shards between them (services/ingest/shards.py)
            assert first.balancer is not None and second.balancer is not None
            return bool(first.balancer.consuming) and bool(second.balancer.consuming)

        await eventually(shared, timeout=20)
    body = alert(unique())
    replies = await asyncio.gather(*(stack.post_alert(body) for _ in range(50)))
    assert {status for status, _ in replies} == {201}
    # A direct publisher that ignores the routing-key convention spreads one alert over every shard:
    # both workers now race on the same identity.
    raw = json.dumps(body).encode()
    await asyncio.gather(*(publish(stack, raw, routing_key=f"spread-{i}") for i in range(50)))

    async def all_applied() -> list[dict[str, Any]] | None:
        docs = await stored_count(stack, body["resource"])
        return docs if docs and docs[0]["duplicateCount"] >= 99 else None

    docs = await eventually(all_applied, timeout=30)
    assert len(docs) == 1 and docs[0]["duplicateCount"] == 99


async def test_invalid_message_is_dead_lettered_and_worker_keeps_consuming(stack: Stack) -> None:
    before = counter(stack, "alertbus_messages_dead_lettered_total", reason="invalid")
    bad_id = str(uuid.uuid4())
    await publish(stack, b"{this is not json", routing_key="x", message_id=bad_id)
    await publish(stack, json.dumps({"resource": "r"}).encode(), routing_key="x", message_id=bad_id + "-2")

    async def both_dead() -> bool:
        return counter(stack, "alertbus_messages_dead_lettered_total", reason="invalid") >= before + 2

    await eventually(both_dead)
    ids = {m.message_id for m in await dead_letters(stack)}
    assert {bad_id, bad_id + "-2"} <= ids
    status, reply = await stack.post_alert(alert(unique()))
    assert status == 201, reply


async def test_poison_message_is_dead_lettered_after_bounded_tries(stack: Stack) -> None:
    """A valid alert whose write fails every time: a direct publisher reuses the message id of an alert it sent
    before for another alert, whose new document would take the first one's id. Retried, then dead-lettered."""
    before = counter(stack, "alertbus_messages_dead_lettered_total", reason="conflict")
    poison_id = str(uuid.uuid4())
    first, resource = alert(unique()), unique()
    await publish(stack, json.dumps(first).encode(), routing_key=f"Production/{first['resource']}",
                  message_id=poison_id)
    await eventually(lambda: stack.store.alerts.find_one({"_id": direct_id(stack, poison_id)}))
    await publish(stack, json.dumps(alert(resource)).encode(), routing_key=f"Production/{resource}",
                  message_id=poison_id)
    good = alert(unique())
    status, _ = await stack.post_alert(good)
    assert status == 201

    async def dead() -> bool:
        return counter(stack, "alertbus_messages_dead_lettered_total", reason="conflict") >= before + 1

    await eventually(dead, timeout=60)
    dead_messages = [m for m in await dead_letters(stack) if m.message_id == poison_id]
    assert len(dead_messages) == 1
    deaths = dead_messages[0].headers["x-death"]
    assert isinstance(deaths, list) and isinstance(deaths[0], dict)
    death: dict[str, Any] = deaths[0]
    assert death["reason"] == "rejected" and death["queue"].startswith(Names.from_settings(stack.settings).ingest)
    assert await stored_count(stack, resource) == []


async def test_redelivered_message_is_not_counted_twice(stack: Stack) -> None:
    body = alert(unique())
    status, created = await stack.post_alert(body)
    assert status == 201
    message_id = str(uuid.uuid4())
    raw = json.dumps(body).encode()
    key = f"Production/{body['resource']}"
    await publish(stack, raw, routing_key=key, message_id=message_id)
    await publish(stack, raw, routing_key=key, message_id=message_id)  # the same message again
    await publish(stack, raw, routing_key=key, message_id=str(uuid.uuid4()))

    async def settled() -> list[dict[str, Any]] | None:
        docs = await stored_count(stack, body["resource"])
        return docs if docs[0]["duplicateCount"] >= 2 else None

    docs = await eventually(settled)
    await asyncio.sleep(0.5)
    docs = await stored_count(stack, body["resource"])
    assert len(docs) == 1 and docs[0]["duplicateCount"] == 2


async def replay_and_compare(stack: Stack, body: dict[str, Any], raw: bytes, kind: str, message_id: str,
                             doc_id: str) -> None:
    """Publish the already-applied message ``message_id`` once more, then a marker behind it in the same shard (same
    group, so same queue, applied in order): once the marker is stored, the replay has been handled. The alert's
    document must be exactly as it was — every field, the write token ``_v`` included (no write at all)."""
    before = await stack.store.alerts.find_one({"_id": doc_id})
    assert before is not None and direct_id(stack, message_id) in before["_rids"]
    skipped = counter(stack, "alertbus_messages_redelivered_skipped_total")
    key = f"Production/{body['resource']}"
    await publish(stack, raw, routing_key=key, message_id=message_id, kind=kind)  # the redelivery
    marker = alert(body["resource"], event="ReplayMarker")
    await publish(stack, json.dumps(marker).encode(), routing_key=key, message_id=str(uuid.uuid4()))
    await eventually(lambda: stack.store.alerts.find_one({"resource": body["resource"], "event": "ReplayMarker"}))
    after = await stack.store.alerts.find_one({"_id": doc_id})
    assert after is not None and set(after) == set(before)
    for field, value in before.items():
        assert after[field] == value, f"{field} changed: {value!r} -> {after[field]!r}"
    assert counter(stack, "alertbus_messages_redelivered_skipped_total") == skipped + 1


async def test_replayed_alert_leaves_the_document_unchanged_field_by_field(stack: Stack) -> None:
    body = alert(unique(), value="7", text="first duplicate")
    status, created = await stack.post_alert(body)
    assert status == 201
    message_id, raw = str(uuid.uuid4()), json.dumps(body).encode()
    await publish(stack, raw, routing_key=f"Production/{body['resource']}", message_id=message_id)

    async def applied() -> bool:
        doc = await stack.store.alerts.find_one({"_id": created["id"]})
        return doc is not None and direct_id(stack, message_id) in doc["_rids"]

    await eventually(applied)
    await replay_and_compare(stack, body, raw, "alert", message_id, created["id"])
    doc = await stack.store.alerts.find_one({"_id": created["id"]})
    assert doc is not None and doc["duplicateCount"] == 1 and doc["lastReceiveId"] == direct_id(stack, message_id)


async def test_replayed_command_is_not_applied_twice(stack: Stack) -> None:
    """A status change applied twice would add a second history entry; its redelivery changes nothing."""
    body = alert(unique())
    status, created = await stack.post_alert(body)
    assert status == 201
    command = {"op": "status", "id": created["id"], "environment": "Production", "resource": body["resource"],
               "status": "ack", "text": "replayed"}
    message_id, raw = str(uuid.uuid4()), json.dumps(command).encode()
    await publish(stack, raw, routing_key=f"Production/{body['resource']}", message_id=message_id, kind="command")

    async def acked() -> bool:
        doc = await stack.store.alerts.find_one({"_id": created["id"]})
        return doc is not None and doc["status"] == "ack"

    await eventually(acked)
    await replay_and_compare(stack, body, raw, "command", message_id, created["id"])


async def test_changes_are_published_as_events(stack: Stack) -> None:
    channel = await stack.connection.channel()
    exchange = await channel.get_exchange(Names.from_settings(stack.settings).events)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="alert.#")
    resource = unique()
    _, first = await stack.post_alert(alert(resource, severity="minor"))
    await stack.post_alert(alert(resource, severity="minor"))  # duplicate: no event
    await stack.post_alert(alert(resource, severity="major"))  # severity change
    await stack.request("PUT", f"/alert/{first['id']}/status", {"status": "ack"})
    await stack.request("PUT", f"/alert/{first['id']}/tag", {"tags": ["x"]})  # no event
    await stack.request("DELETE", f"/alert/{first['id']}")
    seen = []

    async def four_events() -> bool:
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            event = json.loads(message.body)
            if event["alert"]["resource"] == resource:
                seen.append((message.routing_key, event["alert"]["status"], event["alert"]["severity"]))
        return len(seen) >= 4

    await eventually(four_events)
    await channel.close()
    assert seen == [("alert.created", "open", "minor"), ("alert.severity", "open", "major"),
                    ("alert.status", "ack", "major"), ("alert.deleted", "ack", "major")]
