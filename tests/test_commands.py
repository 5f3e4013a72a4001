"""Status, action, tag, untag and delete through the real pipeline (gateway → RabbitMQ → ingest → store)."""

from __future__ import annotations

import asyncio

import pytest

from .support import Stack, alert, created, fetch, unique


@pytest.mark.parametrize("verb", ["PUT", "POST"])
async def test_status_change_writes_history(stack: Stack, verb: str) -> None:
    alert_id = await created(stack)
    status, body = await stack.request(verb, f"/alert/{alert_id}/status", {"status": "ack", "text": "on it"})
    assert (status, body) == (200, {"status": "ok"})
    doc = await fetch(stack, alert_id)
    assert doc["status"] == "ack"
    last = doc["history"][-1]
    assert (last["type"], last["status"], last["text"], last["user"]) == ("status", "ack", "on it", "admin")


async def test_status_errors(stack: Stack) -> None:
    alert_id = await created(stack)
    status, body = await stack.request("PUT", f"/alert/{alert_id}/status", {"status": "resolved"})
    assert status == 400 and "status" in body["message"]
    status, body = await stack.request("PUT", f"/alert/{alert_id}/status", {"text": "no status"})
    assert status == 400 and "status" in body["message"]
    status, body = await stack.request("PUT", "/alert/00000000-0000-0000-0000-000000000000/status", {"status": "ack"})
    assert status == 404 and body["message"] == "not found"


async def test_tag_and_untag_keep_set_semantics(stack: Stack) -> None:
    alert_id = await created(stack, tags=["a"])
    assert (await stack.request("PUT", f"/alert/{alert_id}/tag", {"tags": ["b", "a", "b"]}))[0] == 200
    assert (await fetch(stack, alert_id))["tags"] == ["a", "b"]
    assert (await stack.request("POST", f"/api/alert/{alert_id[:8]}/untag", {"tags": ["a", "zz"]}))[0] == 200
    assert (await fetch(stack, alert_id))["tags"] == ["b"]
    status, body = await stack.request("PUT", f"/alert/{alert_id}/tag", {"tags": "c"})
    assert status == 400 and "tags" in body["message"]


async def test_delete_alert_and_v3_method_override(stack: Stack) -> None:
    first, second = await created(stack), await created(stack)
    assert await stack.request("DELETE", f"/alert/{first}") == (200, {"status": "ok"})
    assert (await stack.request("GET", f"/alert/{first}"))[0] == 404
    assert (await stack.request("DELETE", f"/alert/{first}"))[0] == 404
    status, body = await stack.request("POST", f"/alert/{second}", {"something": "else"})
    assert status == 405 and body["status"] == "error"
    assert await stack.request("POST", f"/alert/{second}", {"_method": "delete"}) == (200, {"status": "ok"})
    assert (await stack.request("GET", f"/alert/{second}"))[0] == 404


async def test_actions_follow_alertas_status_machine(stack: Stack) -> None:
    alert_id = await created(stack, severity="major")
    path = f"/alert/{alert_id}/action"
    assert (await stack.request("PUT", path, {"action": "ack", "text": "mine"}))[0] == 200
    assert (await fetch(stack, alert_id))["status"] == "ack"
    status, body = await stack.request("PUT", path, {"action": "ack"})
    assert status == 409 and "already in ack status" in body["message"]
    assert (await stack.request("PUT", path, {"action": "unack"}))[0] == 200
    assert (await fetch(stack, alert_id))["status"] == "open"
    assert (await stack.request("PUT", path, {"action": "shelve", "timeout": 600}))[0] == 200
    assert (await stack.request("PUT", path, {"action": "unshelve"}))[0] == 200
    assert (await stack.request("PUT", path, {"action": "close"}))[0] == 200
    doc = await fetch(stack, alert_id)
    assert (doc["status"], doc["severity"], doc["previousSeverity"]) == ("closed", "normal", "major")
    assert [h["type"] for h in doc["history"]][-5:] == ["ack", "unack", "shelve", "unshelve", "close"]
    status, body = await stack.request("PUT", path, {"action": "ack"})
    assert status == 409
    assert (await stack.request("PUT", path, {"action": "open"}))[0] == 200
    assert (await fetch(stack, alert_id))["status"] == "open"
    status, body = await stack.request("PUT", path, {"action": "escalate"})
    assert status == 400 and "action" in body["message"]


async def test_status_change_right_after_an_alert_is_applied_after_it(stack: Stack) -> None:
    """An async severity increase followed at once by an ack: if the ack overtook the alert, the increase
    would re-open the acknowledged alert; in order, the alert ends acknowledged."""
    body = alert(unique(), severity="minor")
    status, first = await stack.post_alert(body)
    assert status == 201
    for _ in range(5):
        await stack.post_alert({**body, "severity": "critical"}, headers={"Prefer": "respond-async"})
        await stack.post_alert({**body, "severity": "minor"}, headers={"Prefer": "respond-async"})
    await stack.post_alert({**body, "severity": "critical"}, headers={"Prefer": "respond-async"})
    status, _ = await stack.request("PUT", f"/alert/{first['id']}/status", {"status": "ack", "text": "after"})
    assert status == 200
    doc = await fetch(stack, first["id"])
    assert doc["status"] == "ack" and doc["severity"] == "critical"
    assert [h["type"] for h in doc["history"]][-2:] == ["severity", "status"]


async def test_delete_heartbeat(stack: Stack) -> None:
    status, body = await stack.request("POST", "/heartbeat", {"origin": unique("hb")})
    assert status == 201
    assert await stack.request("DELETE", f"/heartbeat/{body['id']}") == (200, {"status": "ok"})
    assert (await stack.request("GET", f"/heartbeat/{body['id']}"))[0] == 404
    assert (await stack.request("DELETE", f"/heartbeat/{body['id']}"))[0] == 404


async def test_concurrent_commands_on_one_alert_all_apply(stack: Stack) -> None:
    alert_id = await created(stack)
    tags = [f"t{n}" for n in range(20)]
    replies = await asyncio.gather(*(stack.request("PUT", f"/alert/{alert_id}/tag", {"tags": [t]}) for t in tags))
    assert {status for status, _ in replies} == {200}
    assert sorted((await fetch(stack, alert_id))["tags"]) == sorted(tags)
