"""Direct AMQP publishers, against the real broker and store: one bad message in a burst is dead-lettered alone,
and a direct publisher asserts neither who it is (the ``user`` header) nor which id its alert gets (the
``message_id``) — only a message signed with SERVICE_SECRET (the services' own) is believed on both."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import pytest
import pytest_asyncio

from shared.broker import Names
from shared.signing import SIGNATURE_HEADER, sign, signed_by_service

from .support import Stack, alert, eventually, start_stack, unique
from .support.broker import counter, dead_letters, direct_id

# The test broker's connection user: RabbitMQ vouches for it in the ``user_id`` property.
BROKER_USER = "guest"


def message(body: bytes, *, kind: str | None = "alert", message_id: str | None = None,
            headers: dict[str, Any] | None = None, **props: Any) -> aio_pika.Message:
    return aio_pika.Message(body, content_type="application/json", type=kind,
                            message_id=message_id or str(uuid.uuid4()), headers=headers or {},
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **props)


async def publish_burst(stack: Stack, messages: list[aio_pika.Message], routing_key: str) -> None:
    """Publish every message at once (confirms awaited together), so that they reach the worker together."""
    channel = await stack.connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(Names.from_settings(stack.settings).ingest)
    await asyncio.gather(*(exchange.publish(m, routing_key=routing_key) for m in messages))
    await channel.close()


async def stored(stack: Stack, resource: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        return await stack.store.alerts.find_one({"resource": resource})

    doc: dict[str, Any] = await eventually(found)
    return doc


# -- A. one poison message in a burst is dead-lettered alone -----------------------------------------------------

@pytest_asyncio.fixture(scope="module")
async def burst(store_url: str) -> AsyncIterator[Stack]:
    """One shard and a long batch wait: a burst published at once is one batch of the worker."""
    async with start_stack(store_url, INGEST_SHARDS=1, INGEST_BATCH_WAIT_MS=400) as stack:
        yield stack


def _alert_body(**extra: Any) -> bytes:
    return json.dumps(alert(unique("poison"), **extra)).encode()


POISONS: dict[str, Callable[[], aio_pika.Message]] = {
    # OverflowError in the schema's conversion to UTC (the security review's case).
    "alert-date-out-of-range": lambda: message(_alert_body(createTime="0001-01-01T00:00:00+01:00")),
    "heartbeat-date-out-of-range": lambda: message(
        json.dumps({"origin": unique("hb"), "createTime": "9999-12-31T23:59:59-01:00"}).encode(), kind="heartbeat"),
    "command-guard-out-of-range": lambda: message(json.dumps({
        "op": "status", "id": str(uuid.uuid4()), "environment": "Production", "resource": unique(),
        "status": "ack", "ifLastReceiveTime": "0001-01-01T00:00:00+01:00"}).encode(), kind="command"),
    # RecursionError in the JSON parser.
    "nested-too-deep": lambda: message(b"[" * 200_000),
    "not-utf8": lambda: message(b'{"resource": "\xff\xfe"}'),
    "not-an-object": lambda: message(b'["resource", "event"]'),
    "unknown-type": lambda: message(_alert_body(), kind="no-such-kind"),
    "invalid-command": lambda: message(b'{"op": "status", "id": ""}', kind="command"),
}


def _odd_but_valid(resource: str, index: int) -> aio_pika.Message:
    """Valid alerts whose headers and ids are odd: each must be stored (as a direct publish)."""
    body = json.dumps(alert(resource)).encode()
    odd: list[dict[str, Any]] = [
        {"headers": {"user": bytearray(b"\xffadmin")}},
        {"headers": {"user": 12345, "request_id": "r" * 10_000}},
        {"headers": {"user": {"name": "admin"}, SIGNATURE_HEADER: 7}},
        {"message_id": uuid.uuid4().hex.ljust(255, "m"), "headers": {SIGNATURE_HEADER: bytearray(b"\x00" * 70)}},
        {"kind": None},  # no type: an alert
    ]
    return message(body, **odd[index])


@pytest.mark.parametrize("poison", sorted(POISONS))
async def test_one_poison_message_is_dead_lettered_alone(burst: Stack, poison: str) -> None:
    await dead_letters(burst)  # start from an empty dead-letter queue
    resources = [unique("good") for _ in range(5)]
    good = [_odd_but_valid(resource, index) for index, resource in enumerate(resources)]
    bad = POISONS[poison]()
    dead_before = sum(counter(burst, "alertbus_messages_dead_lettered_total", reason=reason)
                      for reason in ("invalid", "undecodable", "error"))
    batches_before = counter(burst, "alertbus_ingest_batch_size_count")
    await publish_burst(burst, [*good[:2], bad, *good[2:]], routing_key="one-burst")

    docs = [await stored(burst, resource) for resource in resources]
    assert [doc["history"][0]["user"] for doc in docs] == ["amqp"] * 5  # odd user headers are not believed

    async def poison_dead() -> list[str | None] | None:
        found = [m.message_id for m in await dead_letters(burst)]
        return found or None

    assert await eventually(poison_dead) == [bad.message_id]  # the poison alone
    dead = sum(counter(burst, "alertbus_messages_dead_lettered_total", reason=reason)
               for reason in ("invalid", "undecodable", "error"))
    assert dead == dead_before + 1
    assert counter(burst, "alertbus_messages_dead_lettered_total", reason="error") == 0  # at once, never retried
    assert counter(burst, "alertbus_ingest_batch_size_count") == batches_before + 1  # one batch, applied once


async def test_poison_with_reply_to_is_answered_400(stack: Stack) -> None:
    channel = await stack.connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    await publish_burst(stack, [message(_alert_body(createTime="0001-01-01T00:00:00+01:00"), reply_to=queue.name,
                                        correlation_id="poison-1")], routing_key="poison")
    reply = await _next_reply(queue)
    await channel.close()
    assert reply.correlation_id == "poison-1"
    assert json.loads(reply.body)["code"] == 400


# -- B. what a direct publisher may assert -----------------------------------------------------------------------

async def _next_reply(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    async def got() -> aio_pika.abc.AbstractIncomingMessage | None:
        return await queue.get(no_ack=True, fail=False)

    reply: aio_pika.abc.AbstractIncomingMessage = await eventually(got)
    return reply


async def test_message_id_cannot_take_over_another_alerts_id(stack: Stack) -> None:
    victim = alert(unique("victim"))
    _, first = await stack.post_alert(victim)
    status, second = await stack.post_alert(victim)
    assert status == 201
    victim_id, last_receive_id = first["id"], second["alert"]["lastReceiveId"]
    assert victim_id != last_receive_id
    for stolen in (last_receive_id, victim_id):
        resource = unique("attacker")
        await publish_burst(stack, [message(json.dumps(alert(resource)).encode(), message_id=stolen)],
                            routing_key=f"Production/{resource}")
        doc = await stored(stack, resource)
        assert doc["_id"] == doc["lastReceiveId"] == direct_id(stack, stolen)
        assert stolen not in doc["_keys"] and stolen[:8] not in doc["_keys"]
        assert uuid.UUID(doc["_id"]).version == 5 and uuid.UUID(victim_id).version == 4
        for ident in (stolen, stolen[:8]):
            status, found = await stack.request("GET", f"/alert/{ident}")
            assert status == 200 and found["alert"]["id"] == victim_id, ident
    # A command on the victim's receive id still reaches the victim's alert, not the attacker's.
    status, _ = await stack.request("PUT", f"/alert/{last_receive_id}/status", {"status": "ack"})
    assert status == 200
    acked = await stack.store.alerts.find_one({"_id": victim_id})
    assert acked is not None and acked["status"] == "ack"
    attackers = await stack.store.alerts.find({"lastReceiveId": {"$in": [direct_id(stack, victim_id),
                                                                          direct_id(stack, last_receive_id)]}}
                                              ).to_list(None)
    assert [doc["status"] for doc in attackers] == ["open", "open"]


async def test_user_header_of_a_direct_publish_is_replaced_by_the_broker_user(stack: Stack) -> None:
    plain, vouched, gateway = unique("plain"), unique("vouched"), unique("gateway")
    await publish_burst(stack, [message(json.dumps(alert(plain)).encode(), headers={"user": "admin"})],
                        routing_key=f"Production/{plain}")
    await publish_burst(stack, [message(json.dumps(alert(vouched)).encode(), headers={"user": "admin"},
                                        user_id=BROKER_USER)], routing_key=f"Production/{vouched}")
    assert (await stack.post_alert(alert(gateway)))[0] == 201
    assert (await stored(stack, plain))["history"][0]["user"] == "amqp"
    vouched_doc = await stored(stack, vouched)
    assert vouched_doc["history"][0]["user"] == f"amqp:{BROKER_USER}"
    assert (await stored(stack, gateway))["history"][0]["user"] == "admin"  # the key's user, as before
    # A direct command names its user in the body too: neither that nor the header is believed.
    command = {"op": "status", "id": vouched_doc["_id"], "environment": "Production", "resource": vouched,
               "status": "ack", "text": "direct", "user": "admin"}
    await publish_burst(stack, [message(json.dumps(command).encode(), kind="command", headers={"user": "admin"},
                                        user_id=BROKER_USER)], routing_key=f"Production/{vouched}")

    async def acked() -> dict[str, Any] | None:
        doc = await stack.store.alerts.find_one({"_id": vouched_doc["_id"]})
        return doc if doc and doc["status"] == "ack" else None

    assert (await eventually(acked))["history"][-1]["user"] == f"amqp:{BROKER_USER}"


async def test_a_message_signed_with_another_secret_is_a_direct_publish(stack: Stack) -> None:
    secret = stack.settings.service_secret
    cases = {
        "wrong-secret": ("not-" + secret, False, None),
        "right-secret": (secret, True, None),
        "body-changed": (secret, False, b'{"tampered": true}'),
    }
    resources = {name: unique(name) for name in cases}
    for name, (key, _, tamper) in cases.items():
        body = json.dumps(alert(resources[name])).encode()
        mid = str(uuid.uuid4())
        signature = sign(key, "alert", mid, "admin", tamper or body)
        await publish_burst(stack, [message(body, message_id=mid, headers={"user": "admin",
                                                                           SIGNATURE_HEADER: signature})],
                            routing_key=f"Production/{resources[name]}")
        doc = await stored(stack, resources[name])
        trusted = cases[name][1]
        assert doc["history"][0]["user"] == ("admin" if trusted else "amqp"), name
        assert doc["_id"] == (mid if trusted else direct_id(stack, mid)), name


async def test_signature_is_verified_only_with_a_secret(stack: Stack) -> None:
    """``signed_by_service`` on messages as the broker delivers them; an empty secret trusts nothing."""
    channel = await stack.connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    body, mid = b'{"x": 1}', str(uuid.uuid4())
    for secret in ("", stack.settings.service_secret):
        headers = {"user": "admin", SIGNATURE_HEADER: sign(secret, "alert", mid, "admin", body)}
        await channel.default_exchange.publish(message(body, message_id=mid, headers=headers), queue.name)
    empty, real = await _next_reply(queue), await _next_reply(queue)
    assert not signed_by_service("", empty) and not signed_by_service("", real)
    assert signed_by_service(stack.settings.service_secret, real)
    assert not signed_by_service(stack.settings.service_secret, empty)
    await channel.close()
    assert sign("k", "alert", "id", None, body) != sign("k", "alert", "id", "", body)


async def test_direct_publisher_gets_its_reply_and_alert_id(stack: Stack) -> None:
    channel = await stack.connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    resource, mid = unique("rpc"), str(uuid.uuid4())
    await publish_burst(stack, [message(json.dumps(alert(resource)).encode(), message_id=mid, reply_to=queue.name,
                                        correlation_id="c-1", user_id=BROKER_USER)],
                        routing_key=f"Production/{resource}")
    reply = await _next_reply(queue)
    answer = json.loads(reply.body)
    assert reply.correlation_id == "c-1" and answer["code"] == 201
    created = answer["body"]["alert"]
    assert created["id"] == created["lastReceiveId"] == direct_id(stack, mid, BROKER_USER)
    assert created["history"][0]["user"] == f"amqp:{BROKER_USER}"
    status, fetched = await stack.request("GET", f"/alert/{created['id']}")
    assert status == 200 and fetched["alert"]["resource"] == resource
    # The same message again (a redelivery, or a publisher's retry) is recognised, not counted twice.
    await publish_burst(stack, [message(json.dumps(alert(resource)).encode(), message_id=mid, reply_to=queue.name,
                                        correlation_id="c-2", user_id=BROKER_USER)],
                        routing_key=f"Production/{resource}")
    again = json.loads((await _next_reply(queue)).body)
    assert again["code"] == 201 and again["body"]["alert"]["duplicateCount"] == 0
    await channel.close()


async def test_direct_heartbeat_id_is_derived(stack: Stack) -> None:
    origin, mid = unique("hb-direct"), str(uuid.uuid4())
    await publish_burst(stack, [message(json.dumps({"origin": origin}).encode(), kind="heartbeat", message_id=mid)],
                        routing_key=f"heartbeat/{origin}")

    async def found() -> dict[str, Any] | None:
        return await stack.store.heartbeats.find_one({"origin": origin})

    assert (await eventually(found))["_id"] == direct_id(stack, mid)


async def test_broker_refuses_a_user_id_that_is_not_the_connections(stack: Stack) -> None:
    """Why ``user_id`` can be believed: RabbitMQ closes the channel of a publish that claims another user."""
    channel = await stack.connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(Names.from_settings(stack.settings).ingest)
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await exchange.publish(message(json.dumps(alert(unique())).encode(), user_id="admin"), routing_key="x")
