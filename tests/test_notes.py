"""Notes (``PUT|POST /alert/{id}/note``, ``GET /alert/{id}/notes``, ``PUT|DELETE /alert/{id}/note/{note_id}``)
through the real pipeline (gateway → RabbitMQ → ingest → store), with Alerta 9.1's answers: added, listed, edited,
deleted, bounded, in order with the alert's other commands, once per message, behind the write scope. Hostile input:
tests/test_notes_input.py; attribute updates: tests/test_notes_attributes.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from shared import limits

from .support import Stack, assert_error, created, eventually, fetch
from .support.broker import direct_id, publish
from .support.notes import add_note, notes

ASTRAL = "\U0001f600"  # 4 bytes of UTF-8
NOTE_KEYS = {"id", "href", "text", "user", "attributes", "type", "createTime", "updateTime", "_links", "customer",
             "related"}


@pytest.mark.parametrize("verb", ["PUT", "POST"])
async def test_note_is_added_listed_and_written_to_history(stack: Stack, verb: str) -> None:
    alert_id = await created(stack, severity="minor", attributes={"region": "EU"})
    path = f"{stack.url}/alert/{alert_id}/note"
    async with stack.session.request(verb, path, json={"text": "first note"}, headers=stack.auth) as resp:
        assert resp.status == 201
        body = await resp.json()
        location = resp.headers["Location"]
    note = body["note"]
    assert body["status"] == "ok" and body["id"] == note["id"]
    assert set(note) == NOTE_KEYS
    alert = await fetch(stack, alert_id)
    assert (note["text"], note["user"], note["type"], note["customer"]) == ("first note", "admin", "alert", None)
    assert note["attributes"] == {"resource": alert["resource"], "event": "NodeDown", "environment": "Production",
                                  "severity": "minor", "status": "open"}
    assert note["related"] == {"alert": alert_id} and note["updateTime"] is None
    assert note["createTime"].endswith("Z") and note["href"] == f"{stack.url}/note/{note['id']}"
    assert note["_links"] == {"alert": f"{stack.url}/alert/{alert_id}"}
    assert location == f"{stack.url}/alert/{alert_id}/note/{note['id']}"
    assert await notes(stack, alert_id) == [note]
    assert await notes(stack, alert_id[:8]) == [note]  # the short id finds the alert, as everywhere
    entry = alert["history"][-1]
    assert (entry["type"], entry["id"], entry["text"], entry["user"]) == ("note", note["id"], "first note", "admin")
    assert (entry["severity"], entry["status"], entry["value"], entry["timeout"]) == ("minor", "open", "1", None)
    assert "_notes" not in alert and alert["attributes"] == {"region": "EU"}
    status, listed = await stack.request("GET", f"/alerts?id={alert_id}&show-history=true")
    assert status == 200 and listed["total"] == 1 and "_notes" not in listed["alerts"][0]


async def test_alertas_other_spelling_and_the_api_prefix(stack: Stack) -> None:
    alert_id = await created(stack)
    status, body = await stack.request("PUT", f"/api/alert/{alert_id}/note", {"note": "spelt as note"})
    assert status == 201 and body["note"]["text"] == "spelt as note"
    assert body["note"]["href"] == f"{stack.url}/note/{body['id']}"
    status, listed = await stack.request("GET", f"/api/alert/{alert_id}/notes")
    assert status == 200 and [n["id"] for n in listed["notes"]] == [body["id"]]


async def test_an_alert_without_notes_lists_none_as_alerta_does(stack: Stack) -> None:
    alert_id = await created(stack)
    assert await stack.request("GET", f"/alert/{alert_id}/notes") == (
        200, {"status": "ok", "message": "not found", "notes": [], "total": 0})


async def test_note_update_merges_without_history(stack: Stack) -> None:
    alert_id = await created(stack)
    note = await add_note(stack, alert_id, "draft")
    path = f"/alert/{alert_id}/note/{note['id']}"
    status, body = await stack.request("PUT", path, {"text": "final", "attributes": {"ticket": "T-1"}})
    assert status == 200 and body["status"] == "ok", body
    edited = body["note"]
    assert (edited["id"], edited["text"], edited["createTime"]) == (note["id"], "final", note["createTime"])
    assert edited["attributes"] == {**note["attributes"], "ticket": "T-1"} and edited["updateTime"]
    status, body = await stack.request("PUT", path, {"attributes": {"owner": "ops"}})
    assert status == 200 and body["note"]["text"] == "final"
    assert body["note"]["attributes"] == {**note["attributes"], "ticket": "T-1", "owner": "ops"}
    assert await notes(stack, alert_id) == [body["note"]]
    history = (await fetch(stack, alert_id))["history"]
    assert [entry["type"] for entry in history] == ["new", "note"] and history[-1]["text"] == "draft"
    assert_error(*await stack.request("PUT", path, {}), 400, "nothing to change")


async def test_note_delete_writes_a_dismiss_entry(stack: Stack) -> None:
    alert_id = await created(stack)
    first, second = await add_note(stack, alert_id, "one"), await add_note(stack, alert_id, "two")
    assert [n["id"] for n in await notes(stack, alert_id)] == [first["id"], second["id"]]
    path = f"/alert/{alert_id}/note/{first['id']}"
    assert await stack.request("DELETE", path) == (200, {"status": "ok"})
    assert [n["text"] for n in await notes(stack, alert_id)] == ["two"]
    entry = (await fetch(stack, alert_id))["history"][-1]
    assert (entry["type"], entry["id"], entry["text"], entry["user"]) == ("dismiss", first["id"], "note dismissed",
                                                                           "admin")
    assert_error(*await stack.request("DELETE", path), 404, "note not found")
    assert await stack.request("DELETE", f"/alert/{alert_id}/note/{second['id']}") == (200, {"status": "ok"})
    assert (await stack.request("GET", f"/alert/{alert_id}/notes"))[1]["total"] == 0
    status, records = await stack.request("GET", f"/alerts/history?id={alert_id}")
    assert status == 200 and [r["type"] for r in records["history"]][:4] == ["dismiss", "dismiss", "note", "note"]


async def test_unknown_alerts_and_notes_are_404(stack: Stack) -> None:
    alert_id, other = await created(stack), await created(stack)
    foreign = await add_note(stack, other)
    missing = str(uuid.uuid4())
    assert_error(*await stack.request("PUT", f"/alert/{missing}/note", {"text": "x"}), 404, "not found")
    assert_error(*await stack.request("GET", f"/alert/{missing}/notes"), 404, "not found")
    assert_error(*await stack.request("PUT", f"/alert/{missing}/note/{foreign['id']}", {"text": "x"}), 404)
    assert_error(*await stack.request("DELETE", f"/alert/{missing}/note/{foreign['id']}"), 404, "alert not found")
    assert_error(*await stack.request("PUT", f"/alert/{missing}/attributes", {"attributes": {"a": 1}}), 404)
    # A note of another alert is not this alert's.
    assert_error(*await stack.request("PUT", f"/alert/{alert_id}/note/{foreign['id']}", {"text": "x"}), 404)
    assert_error(*await stack.request("DELETE", f"/alert/{alert_id}/note/{foreign['id']}"), 404, "note not found")
    for note_id in ("n" * 129, "a%0Ab", "%F0%9F%98%80" * 40):
        assert_error(*await stack.request("PUT", f"/alert/{alert_id}/note/{note_id}", {"text": "x"}), 404)
        assert_error(*await stack.request("DELETE", f"/alert/{alert_id}/note/{note_id}"), 404)
    assert await notes(stack, other) == [foreign]
    assert [e["type"] for e in (await fetch(stack, alert_id))["history"]] == ["new"]


async def test_notes_stay_bounded_and_refusals_are_409(stack: Stack) -> None:
    alert_id = await created(stack)
    big = ASTRAL * limits.NOTE_CHARS  # 256 KiB once stored: two of them cross NOTES_BYTES
    await add_note(stack, alert_id, big)
    assert_error(*await stack.request("PUT", f"/alert/{alert_id}/note", {"text": big}), 409, "bytes")
    small = await add_note(stack, alert_id, "small")
    assert_error(*await stack.request("PUT", f"/alert/{alert_id}/note/{small['id']}", {"text": big}), 409, "bytes")
    assert [n["text"] for n in await notes(stack, alert_id)] == [big, "small"]
    other = await created(stack)
    replies = await asyncio.gather(*[stack.request("PUT", f"/alert/{other}/note", {"text": f"n{i}"})
                                     for i in range(limits.NOTE_ITEMS + 3)])
    assert sorted(status for status, _ in replies) == [201] * limits.NOTE_ITEMS + [409] * 3
    assert "at most 100 notes" in next(body["message"] for status, body in replies if status == 409)
    assert len(await notes(stack, other)) == limits.NOTE_ITEMS


async def test_concurrent_notes_and_commands_all_land_in_order(stack: Stack) -> None:
    alert_id = await created(stack)
    requests = [stack.request("PUT", f"/alert/{alert_id}/note", {"text": f"note {i}"}) for i in range(20)]
    requests.append(stack.request("PUT", f"/alert/{alert_id}/status", {"status": "ack", "text": "mine"}))
    requests.append(stack.request("PUT", f"/alert/{alert_id}/attributes", {"attributes": {"seen": True}}))
    replies = await asyncio.gather(*requests)
    assert [status for status, _ in replies] == [201] * 20 + [200, 200]
    listed = await notes(stack, alert_id)
    assert sorted(n["text"] for n in listed) == sorted(f"note {i}" for i in range(20))
    assert len({n["id"] for n in listed}) == 20
    alert = await fetch(stack, alert_id)
    assert alert["status"] == "ack" and alert["attributes"]["seen"] is True
    noted = [entry["id"] for entry in alert["history"] if entry["type"] == "note"]
    assert noted == [n["id"] for n in listed]  # one history entry per note, in the order the notes were kept
    # Each note records the status it was written in: every note kept after the ack says ack, none before it.
    statuses = [n["attributes"]["status"] for n in listed]
    assert statuses == sorted(statuses, key=lambda status: status == "ack")
    types = [entry["type"] for entry in alert["history"]]
    assert statuses.count("ack") == types[types.index("status"):].count("note")
    # Duplicates and status changes keep the notes.
    status, _ = await stack.post_alert({**{k: alert[k] for k in ("resource", "event", "environment", "severity",
                                                                 "service")}, "value": "2"})
    assert status == 201
    assert len(await notes(stack, alert_id)) == 20


async def test_a_redelivered_note_command_adds_its_note_once(stack: Stack) -> None:
    alert_id = await created(stack)
    alert = await fetch(stack, alert_id)
    message_id = str(uuid.uuid4())
    command = {"op": "note", "id": alert_id, "environment": "Production", "resource": alert["resource"],
               "text": "published straight to the broker"}
    for _ in range(2):
        await publish(stack, json.dumps(command).encode(), routing_key=f"Production/{alert['resource']}",
                      message_id=message_id, kind="command")

    async def landed() -> list[dict[str, Any]]:
        return await notes(stack, alert_id)

    await eventually(landed)
    # A later command of the same group is applied after both publishes: once it is answered, they were too.
    assert (await stack.request("PUT", f"/alert/{alert_id}/status", {"status": "ack"}))[0] == 200
    listed = await notes(stack, alert_id)
    assert [n["id"] for n in listed] == [direct_id(stack, message_id)] and listed[0]["user"] == "amqp"
    assert [e["type"] for e in (await fetch(stack, alert_id))["history"]] == ["new", "note", "status"]


async def test_write_routes_need_the_write_scope(stack: Stack) -> None:
    alert_id = await created(stack)
    note = await add_note(stack, alert_id)
    status, key = await stack.request("POST", "/key", {"user": "reader", "scopes": ["read"]})
    assert status == 201, key
    reader = {"X-API-Key": key["key"]}
    for method, path, body in [("PUT", f"/alert/{alert_id}/note", {"text": "x"}),
                               ("PUT", f"/alert/{alert_id}/note/{note['id']}", {"text": "x"}),
                               ("DELETE", f"/alert/{alert_id}/note/{note['id']}", None),
                               ("PUT", f"/alert/{alert_id}/attributes", {"attributes": {"a": 1}})]:
        assert_error(*await stack.request(method, path, body, auth=False, headers=reader), 403, "write")
    status, body = await stack.request("GET", f"/alert/{alert_id}/notes", auth=False, headers=reader)
    assert status == 200 and body["notes"] == [note]
    assert (await stack.request("GET", f"/alert/{alert_id}/notes", auth=False))[0] == 401
    assert (await stack.request("POST", f"/alert/{alert_id}/attributes", {"attributes": {"a": 1}}))[0] == 405
