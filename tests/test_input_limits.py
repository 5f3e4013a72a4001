"""Hostile input: out-of-range dates, text that is not Unicode, control characters in one-line fields, deep
nesting, and every field at or over its size limit (shared/limits.py). Through the real stack: a 400 naming the
field, never a 500, nothing stored; a direct AMQP publish of the same is dead-lettered. And however many
maximum-size writes an alert takes, its stored document stays bounded and a later status change succeeds."""

from __future__ import annotations

import json
import uuid
from typing import Any

import bson
import pytest

from shared import limits

from .support import Stack, alert, assert_error, eventually, unique
from .support.broker import dead_letters, publish

DEEP = b"[" * 5000 + b"]" * 5000
ASTRAL = "\U0001f600"  # 4 bytes of UTF-8: the worst case of every length counted in characters

HOSTILE_ALERT_FIELDS: list[tuple[str, Any]] = [
    ("createTime", "0001-01-01T00:00:00+01:00"),
    ("createTime", "9999-12-31T23:30:00-05:00"),
    *[(name, "bad \ud800 text") for name in
      ("resource", "event", "environment", "group", "value", "text", "origin", "type")],
    *[(name, ["fine", "\udfff"]) for name in ("tags", "service", "correlate")],
    ("attributes", {"k": "\ud800"}),
    ("attributes", {"k\udc00": 1}),
    ("attributes", {"k": {"deeper": ["\ud800"]}}),
    ("rawData", "raw \ud800"),
    ("rawData", {"a": ["\ud800"]}),
    ("resource", "web01\nweb02"),
    ("event", "Down\r"),
    ("environment", "Production\x00"),
    ("origin", "probe\n2026-01-01 12:00:00 INFO forged log line"),
    ("group", "a\x1b[31mred"),
    ("type", "a\u2028b"),
    ("tags", ["ok", "a\nb"]),
    ("service", ["Web\x85"]),
    ("correlate", ["Up\x7f"]),
    ("attributes", {"a": json.loads("[" * (limits.MAX_DEPTH + 2) + "]" * (limits.MAX_DEPTH + 2))}),
]
OVERSIZED_ALERT_FIELDS: list[tuple[str, Any, int]] = [
    ("resource", "r" * (limits.RESOURCE_CHARS + 1), limits.RESOURCE_CHARS),
    ("group", "g" * (limits.GROUP_CHARS + 1), limits.GROUP_CHARS),
    ("type", "t" * (limits.TYPE_CHARS + 1), limits.TYPE_CHARS),
    ("origin", "o" * (limits.ORIGIN_CHARS + 1), limits.ORIGIN_CHARS),
    ("value", "v" * (limits.VALUE_CHARS + 1), limits.VALUE_CHARS),
    ("text", "x" * (limits.TEXT_CHARS + 1), limits.TEXT_CHARS),
    ("text", "x" * 950_000, limits.TEXT_CHARS),  # the posts that once grew one alert to 16 MB
    ("tags", [f"t{i}" for i in range(limits.TAG_ITEMS + 1)], limits.TAG_ITEMS),
    ("tags", [f"t{i}" for i in range(15_000)], limits.TAG_ITEMS),
    ("tags", ["t" * (limits.TAG_CHARS + 1)], limits.TAG_CHARS),
    ("service", [f"s{i}" for i in range(limits.SERVICE_ITEMS + 1)], limits.SERVICE_ITEMS),
    ("correlate", [f"c{i}" for i in range(limits.CORRELATE_ITEMS + 1)], limits.CORRELATE_ITEMS),
    ("attributes", {f"k{i}": i for i in range(limits.ATTRIBUTE_KEYS + 1)}, limits.ATTRIBUTE_KEYS),
    ("attributes", {"k" * (limits.ATTRIBUTE_KEY_CHARS + 1): 1}, limits.ATTRIBUTE_KEY_CHARS),
    ("attributes", {"blob": "b" * limits.ATTRIBUTES_BYTES}, limits.ATTRIBUTES_BYTES),
    ("rawData", "r" * (limits.RAW_DATA_BYTES + 1), limits.RAW_DATA_BYTES),
    ("rawData", {"lines": ["r" * 1000] * 600}, limits.RAW_DATA_BYTES),
]


async def stored_alerts(stack: Stack, marker: str) -> int:
    """Alerts whose resource or event is the test's unique marker (one of them survives any hostile field)."""
    return await stack.store.alerts.count_documents({"$or": [{"resource": marker}, {"event": marker}]})


def hostile(field: str, value: Any) -> tuple[str, dict[str, Any]]:
    marker = unique()
    return marker, {**alert(marker, event=marker), field: value}


# -- HTTP: 400 naming the field, nothing stored ------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), HOSTILE_ALERT_FIELDS)
async def test_hostile_alert_field_is_refused_by_name(stack: Stack, field: str, value: Any) -> None:
    marker, body = hostile(field, value)
    status, reply = await stack.post_alert(body)
    assert_error(status, reply, 400, field)
    assert await stored_alerts(stack, marker) == 0


@pytest.mark.parametrize(("field", "value", "limit"), OVERSIZED_ALERT_FIELDS)
async def test_oversized_alert_field_is_refused_naming_the_limit(stack: Stack, field: str, value: Any,
                                                                 limit: int) -> None:
    marker, body = hostile(field, value)
    status, reply = await stack.post_alert(body)
    assert_error(status, reply, 400, field, str(limit))
    assert await stored_alerts(stack, marker) == 0


async def test_surrogate_sent_as_raw_bytes_is_refused_too(stack: Stack) -> None:
    """UTF-8 bytes of a surrogate (ED A0 80) are decoded leniently by the JSON decoder: the schema catches them."""
    body = alert(unique())
    raw = json.dumps(body).encode().replace(b'"NodeDown"', b'"Node\xed\xa0\x80Down"')
    status, reply = await stack.post_alert({}, raw=raw)
    assert_error(status, reply, 400, "event")
    assert await stored_alerts(stack, body["resource"]) == 0


@pytest.mark.parametrize("path", ["/alert", "/heartbeat", "/key", "/user"])
async def test_deeply_nested_body_is_400(stack: Stack, path: str) -> None:
    status, reply = await stack.request("POST", path, raw=DEEP, headers={"Content-Type": "application/json"})
    assert_error(status, reply, 400, "nested")
    nested_raw = b'{"resource":"r","event":"e","rawData":' + DEEP + b"}"
    status, reply = await stack.request("POST", path, raw=nested_raw)
    assert_error(status, reply, 400, "nested")


async def test_values_at_the_limits_are_accepted(stack: Stack) -> None:
    body = alert(unique(), text=ASTRAL * limits.TEXT_CHARS, value="v" * limits.VALUE_CHARS,
                 tags=[f"{i:04d}" + "t" * (limits.TAG_CHARS - 4) for i in range(limits.TAG_ITEMS)],
                 origin="probe\tone", createTime="0001-01-01T00:00:00Z")
    raw = json.dumps(body, ensure_ascii=False).encode()
    status, reply = await stack.post_alert({}, raw=raw)
    assert status == 201, reply
    assert reply["alert"]["createTime"] == "0001-01-01T00:00:00.000Z"  # year 1 written with four digits
    assert reply["alert"]["text"] == body["text"] and len(reply["alert"]["tags"]) == limits.TAG_ITEMS


@pytest.mark.parametrize(("field", "value"), [
    ("origin", "probe\nfake healthcheck line"), ("origin", "\ud800"), ("origin", "o" * (limits.ORIGIN_CHARS + 1)),
    ("tags", ["\ud800"]), ("tags", ["a\nb"]), ("tags", ["t"] * (limits.TAG_ITEMS + 1)),
    ("attributes", {"k": "\udc00"}), ("attributes", {"k": "b" * limits.ATTRIBUTES_BYTES}),
    ("createTime", "0001-01-01T00:00:00+01:00"), ("createTime", "9999-12-31T23:00:00-01:00"),
])
async def test_hostile_heartbeat_is_refused_by_name(stack: Stack, field: str, value: Any) -> None:
    before = await stack.store.heartbeats.count_documents({})
    status, reply = await stack.request("POST", "/heartbeat", {"origin": unique("probe"), field: value})
    assert_error(status, reply, 400, field)
    assert await stack.store.heartbeats.count_documents({}) == before


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/key", {"user": "ops", "expireTime": "0001-01-01T00:00:00+01:00"}, "expireTime"),
    ("/key", {"user": "ops", "expireTime": "9999-12-31T23:59:59-01:00"}, "expireTime"),
    ("/key", {"user": "ops\ud800"}, "user"),
    ("/key", {"user": "ops\nadmin"}, "user"),
    ("/key", {"user": "ops", "text": "\udfff"}, "text"),
    ("/key", {"user": "ops", "scopes": ["read"] * (limits.SCOPE_ITEMS + 1)}, "scopes"),
    ("/user", {"user": "ops\ud800@example.com", "sponsor": "Ops"}, "user"),
    ("/user", {"user": "ops@example.com", "sponsor": "Ops\ud800"}, "sponsor"),
])
async def test_hostile_key_and_user_bodies_are_refused_by_name(stack: Stack, path: str, body: dict[str, Any],
                                                               field: str) -> None:
    accounts = [stack.store.db["keys"], stack.store.db["users"]]
    before = [await collection.count_documents({}) for collection in accounts]
    status, reply = await stack.request("POST", path, body)
    assert_error(status, reply, 400, field)
    assert [await collection.count_documents({}) for collection in accounts] == before


@pytest.mark.parametrize(("route", "body", "field"), [
    ("status", {"status": "ack", "text": "\ud800"}, "text"),
    ("status", {"status": "ack", "text": "x" * (limits.TEXT_CHARS + 1)}, "text"),
    ("action", {"action": "ack", "text": "looking \udc00"}, "text"),
    ("action", {"action": "ack", "text": "x" * (limits.TEXT_CHARS + 1)}, "text"),
    ("tag", {"tags": ["a\nb"]}, "tags"),
    ("tag", {"tags": ["\ud800"]}, "tags"),
    ("tag", {"tags": ["t" * (limits.TAG_CHARS + 1)]}, "tags"),
    ("tag", {"tags": [f"t{i}" for i in range(limits.TAG_ITEMS + 1)]}, "tags"),
    ("untag", {"tags": ["\ud800"]}, "tags"),
])
async def test_hostile_command_body_is_refused_and_the_alert_unchanged(stack: Stack, route: str,
                                                                       body: dict[str, Any], field: str) -> None:
    status, created = await stack.post_alert(alert(unique(), tags=["keep"]))
    assert status == 201, created
    ident = created["id"]
    status, reply = await stack.request("PUT", f"/alert/{ident}/{route}", body)
    assert_error(status, reply, 400, field)
    status, reply = await stack.request("PUT", f"/alert/{ident}/{route}", raw=DEEP)
    assert_error(status, reply, 400, "nested")
    _, after = await stack.request("GET", f"/alert/{ident}")
    assert after["alert"]["status"] == "open" and after["alert"]["tags"] == ["keep"]
    assert len(after["alert"]["history"]) == 1


# -- AMQP: the worker runs the same schema on a direct publish ---------------------------------------------------

async def test_hostile_direct_publish_is_dead_lettered_and_not_stored(stack: Stack) -> None:
    resource = unique()
    bodies = {
        "surrogate": json.dumps({**alert(resource), "text": "\ud800"}).encode(),
        "control": json.dumps({**alert(resource), "origin": "a\nb"}).encode(),
        "date": json.dumps({**alert(resource), "createTime": "0001-01-01T00:00:00+01:00"}).encode(),
        "size": json.dumps({**alert(resource), "text": "x" * (limits.TEXT_CHARS + 1)}).encode(),
        "nested": DEEP,
        "command": json.dumps({"op": "status", "id": "x", "status": "ack", "text": "\ud800"}).encode(),
    }
    ids = {name: str(uuid.uuid4()) for name in bodies}
    for name, raw in bodies.items():
        await publish(stack, raw, routing_key=f"Production/{resource}", message_id=ids[name],
                      kind="command" if name == "command" else "alert")
    seen: set[str] = set()

    async def all_dead() -> bool:
        seen.update(message.message_id or "" for message in await dead_letters(stack))
        return set(ids.values()) <= seen

    await eventually(all_dead, timeout=30)
    assert await stack.store.alerts.count_documents({"resource": resource}) == 0
    status, reply = await stack.post_alert(alert(unique()))  # the worker kept consuming
    assert status == 201, reply


# -- merges and the stored document stay bounded -----------------------------------------------------------------

async def test_big_tag_merges_through_the_stack_keep_the_newest(stack: Stack) -> None:
    resource = unique()
    first = [f"first-{i}" for i in range(limits.TAG_ITEMS)]
    second = [f"second-{i}" for i in range(limits.TAG_ITEMS)]
    assert (await stack.post_alert(alert(resource, tags=first)))[0] == 201
    status, reply = await stack.post_alert(alert(resource, tags=second))
    assert status == 201 and reply["alert"]["tags"] == second and reply["alert"]["duplicateCount"] == 1
    third = [f"third-{i}" for i in range(limits.TAG_ITEMS)]
    status, _ = await stack.request("PUT", f"/alert/{reply['id']}/tag", {"tags": ["first-1", *third[1:]]})
    assert status == 200
    _, after = await stack.request("GET", f"/alert/{reply['id']}")
    assert after["alert"]["tags"] == ["first-1", *third[1:]]


def max_post(resource: str, n: int) -> bytes:
    """About 0.9 MiB: text at its limit in 4-byte characters, 1,000 new tags, 100 new attributes, raw data."""
    body = alert(resource, value=f"v{n}", text=ASTRAL * limits.TEXT_CHARS,
                 tags=[f"{n}-{i}-" + "t" * 200 for i in range(limits.TAG_ITEMS)],
                 attributes={f"a{n}-{i}": "a" * 2000 for i in range(100)}, rawData="r" * 200_000)
    return json.dumps(body, ensure_ascii=False).encode()


async def test_maximum_size_posts_keep_the_stored_alert_bounded_and_writable(stack: Stack) -> None:
    resource = unique()
    for n in range(12):
        raw = max_post(resource, n)
        assert len(raw) < stack.settings.max_body_bytes
        status, reply = await stack.post_alert({}, raw=raw)
        assert status == 201, reply
    ident = reply["id"]
    doc = await stack.store.alerts.find_one({"_id": ident})
    assert doc is not None and len(bson.encode(doc)) < limits.DOCUMENT_BYTES
    assert len(doc["tags"]) == limits.TAG_ITEMS and doc["tags"][0].startswith("11-")
    assert limits.encoded_bytes(doc["attributes"]) <= limits.ATTRIBUTES_BYTES
    assert doc["history"][-1]["value"] == "v11" and len(doc["history"]) < 12
    status, reply = await stack.request("PUT", f"/alert/{ident}/status",
                                        {"status": "ack", "text": ASTRAL * limits.TEXT_CHARS})
    assert status == 200, reply
    doc = await stack.store.alerts.find_one({"_id": ident})
    assert doc is not None and doc["status"] == "ack" and len(bson.encode(doc)) < limits.DOCUMENT_BYTES
