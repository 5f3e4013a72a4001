"""Blackouts through the real stack: the routes' answers (as Alerta 9.1 gives them), and an alert sent during a
blackout — suppressed with 202, or stored with status ``blackout`` when notification during blackouts is on. Every
blackout made on the session's stack names a resource of its own (the session's other tests send alerts to
Production too) and is deleted by the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest_asyncio

from shared.blackouts import SUPPRESSED
from shared.fieldtypes import isoformat

from .support import Stack, alert, assert_error, start_stack, unique


def iso(delta: timedelta) -> str:
    return isoformat(datetime.now(UTC) + delta)


async def make_blackout(stack: Stack, **fields: Any) -> dict[str, Any]:
    status, body = await stack.request("POST", "/blackout", {"environment": "Production", **fields})
    assert status == 201, body
    assert body["status"] == "ok" and body["id"] == body["blackout"]["id"]
    return dict(body["blackout"])


async def delete_blackout(stack: Stack, ident: str) -> None:
    status, body = await stack.request("DELETE", f"/blackout/{ident}")
    assert (status, body) == (200, {"status": "ok"})


async def test_created_blackout_answers_as_alerta(stack: Stack) -> None:
    resource = unique()
    async with stack.session.post(stack.url + "/blackout", headers=stack.auth,
                                  json={"environment": "Production", "resource": resource, "text": "patching"}) as r:
        assert r.status == 201
        body = await r.json()
        assert r.headers["Location"] == body["blackout"]["href"]
    blackout = body["blackout"]
    assert blackout["href"].endswith(f"/blackout/{body['id']}")
    expected: dict[str, Any] = {
        "environment": "Production", "service": [], "resource": resource, "event": None, "group": None, "tags": [],
        "origin": None, "customer": None, "duration": 3600, "status": "active", "remaining": 3600, "priority": 2,
        "text": "patching", "user": "admin"}
    assert {name: blackout[name] for name in expected} == expected
    start, end = (datetime.fromisoformat(blackout[name]) for name in ("startTime", "endTime"))
    assert end - start == timedelta(hours=1) and abs(datetime.now(UTC) - start) < timedelta(seconds=10)
    assert blackout["createTime"] == blackout["startTime"]
    status, one = await stack.request("GET", f"/blackout/{body['id']}")
    assert status == 200 and one["status"] == "ok" and one["total"] == 1
    assert one["blackout"]["id"] == body["id"] and one["blackout"]["remaining"] <= 3600
    await delete_blackout(stack, body["id"])
    for method in ("GET", "PUT", "DELETE"):
        status, gone = await stack.request(method, f"/blackout/{body['id']}", {"text": "x"})
        assert_error(status, gone, 404, "not found")


async def test_times_from_start_end_or_duration(stack: Stack) -> None:
    resource = unique()
    pending = await make_blackout(stack, resource=resource, startTime=iso(timedelta(hours=1)), duration=600)
    assert (pending["status"], pending["duration"], pending["remaining"]) == ("pending", 600, 600)
    expired = await make_blackout(stack, resource=resource, startTime=iso(-timedelta(hours=2)),
                                  endTime=iso(-timedelta(hours=1)))
    assert (expired["status"], expired["duration"], expired["remaining"]) == ("expired", 3600, 0)
    ended = await make_blackout(stack, resource=resource, endTime=iso(timedelta(minutes=10)))
    assert ended["status"] == "active" and 590 <= ended["duration"] <= 600
    defaulted = await make_blackout(stack, resource=resource, duration=0, startTime=None)  # 0 and null: defaults
    assert defaulted["duration"] == 3600 and defaulted["status"] == "active"
    for blackout in (pending, expired, ended, defaulted):
        await delete_blackout(stack, blackout["id"])


async def test_listing_pages_filters_and_sorts(stack: Stack) -> None:
    resource = unique()
    made = [await make_blackout(stack, resource=resource, startTime=iso(timedelta(hours=n)), tags=[f"t{n}"],
                             duration=7200)
            for n in (-1, 1, 2)]
    status, body = await stack.request("GET", f"/blackouts?resource={resource}&page-size=2")
    assert status == 200
    assert {k: body[k] for k in ("status", "page", "pageSize", "pages", "more", "total")} == \
        {"status": "ok", "page": 1, "pageSize": 2, "pages": 2, "more": True, "total": 3}
    assert [b["id"] for b in body["blackouts"]] == [made[0]["id"], made[1]["id"]]  # in creation order
    status, body = await stack.request("GET", f"/blackouts?resource={resource}&page=2&page-size=2")
    assert status == 200 and [b["id"] for b in body["blackouts"]] == [made[2]["id"]] and not body["more"]
    status, body = await stack.request("GET", f"/blackouts?resource={resource}&status=pending&sort-by=-startTime")
    assert [b["id"] for b in body["blackouts"]] == [made[1]["id"], made[2]["id"]]
    status, body = await stack.request("GET", f"/blackouts?resource={resource}&status=active")
    assert [b["id"] for b in body["blackouts"]] == [made[0]["id"]]
    status, body = await stack.request("GET", f"/blackouts?resource={resource}&tag=t1&tag=t2&sort-by=startTime")
    assert [b["id"] for b in body["blackouts"]] == [made[2]["id"], made[1]["id"]]  # dates: newest first
    status, body = await stack.request("GET", f"/blackouts?resource={resource}&tag!=t1")
    assert [b["id"] for b in body["blackouts"]] == [made[0]["id"], made[2]["id"]]
    status, body = await stack.request("GET", f"/blackouts?resource={unique()}")
    assert status == 200 and body["blackouts"] == [] and body["total"] == 0 and body["message"] == "not found"
    assert body["pages"] == 0 and body["more"] is False
    status, body = await stack.request("GET", f"/blackouts?resource={resource}&page=3&page-size=2")
    assert_error(status, body, 416, "page out of range: 1-2")
    for blackout in made:
        await delete_blackout(stack, blackout["id"])


async def test_update_changes_what_it_names(stack: Stack) -> None:
    resource = unique()
    made = await make_blackout(stack, resource=resource, event="Down", service=["Web"], text="before",
                               startTime=iso(timedelta(hours=1)), duration=600)
    status, body = await stack.request("PUT", f"/blackout/{made['id']}", {"text": "after", "tags": ["eu"]})
    assert status == 200 and body["status"] == "ok"
    changed = body["blackout"]
    assert (changed["text"], changed["tags"], changed["event"], changed["service"]) == ("after", ["eu"], "Down",
                                                                                      ["Web"])
    assert changed["startTime"] == made["startTime"] and changed["endTime"] == made["endTime"]
    # As the alerta client sends it: every field, null for those not changed (environment and times stay).
    sent = {"environment": None, "service": None, "resource": resource, "event": None, "group": None,
            "tags": None, "origin": None, "customer": None, "startTime": None, "endTime": iso(timedelta(hours=3)),
            "text": "client"}
    status, body = await stack.request("PUT", f"/blackout/{made['id']}", sent)
    assert status == 200, body
    changed = body["blackout"]
    assert (changed["environment"], changed["event"], changed["service"], changed["tags"]) == ("Production", None,
                                                                                            [], [])
    assert changed["priority"] == 2 and changed["duration"] == 7200 and changed["status"] == "pending"
    status, body = await stack.request("PUT", f"/blackout/{made['id']}", {"duration": 60})
    assert body["blackout"]["duration"] == 60 and body["blackout"]["startTime"] == made["startTime"]
    status, body = await stack.request("GET", f"/blackout/{made['id']}")
    assert body["blackout"]["duration"] == 60 and body["blackout"]["text"] == "client"
    await delete_blackout(stack, made["id"])


async def test_alert_during_an_active_blackout_is_suppressed_and_not_stored(stack: Stack) -> None:
    resource = unique()
    blackout = await make_blackout(stack, resource=resource)
    status, body = await stack.post_alert(alert(resource))  # at once: the worker knows the blackout already
    assert status == 202, body
    assert body["status"] == "ok" and body["message"] == SUPPRESSED and body["id"]
    status, found = await stack.request("GET", f"/alert/{body['id']}")
    assert status == 404
    assert await stack.store.alerts.count_documents({"resource": resource}) == 0
    status, other = await stack.post_alert(alert(unique()))  # another resource: no blackout
    assert status == 201, other
    status, other = await stack.post_alert(alert(resource, environment="Development"))
    assert status == 201, other
    await delete_blackout(stack, blackout["id"])


async def test_every_named_attribute_must_match(stack: Stack) -> None:
    resource = unique()
    named = {"resource": resource, "event": "Down", "group": "Net", "origin": "probe/1", "service": ["Web"],
             "tags": ["eu", "db"]}
    blackout = await make_blackout(stack, **named)
    full = alert(resource, "Down", group="Net", origin="probe/1", service=["Web", "Shop"], tags=["db", "eu", "x"])
    status, _ = await stack.post_alert(full)
    assert status == 202
    for change in ({"tags": ["eu"]}, {"service": ["Shop"]}, {"group": "Other"}, {"origin": "probe/2"}):
        status, body = await stack.post_alert({**full, **change})
        assert status == 201, (change, body)
    status, body = await stack.post_alert({**full, "event": "Up"})
    assert status == 201
    await delete_blackout(stack, blackout["id"])


async def test_pending_and_expired_blackouts_do_not_suppress(stack: Stack) -> None:
    resource = unique()
    pending = await make_blackout(stack, resource=resource, startTime=iso(timedelta(hours=1)))
    expired = await make_blackout(stack, resource=resource, startTime=iso(-timedelta(hours=2)), duration=60)
    status, body = await stack.post_alert(alert(resource))
    assert status == 201 and body["alert"]["status"] == "open"
    # Alerta matches the alert's createTime: one sent with a time inside the pending window is suppressed.
    status, body = await stack.post_alert(alert(resource, createTime=iso(timedelta(hours=1, minutes=1))))
    assert status == 202
    for blackout in (pending, expired):
        await delete_blackout(stack, blackout["id"])


async def test_changes_reach_the_worker_without_a_restart(stack: Stack) -> None:
    resource = unique()
    blackout = await make_blackout(stack, resource=resource)
    assert (await stack.post_alert(alert(resource)))[0] == 202
    status, body = await stack.request("PUT", f"/blackout/{blackout['id']}",
                                       {"startTime": iso(timedelta(hours=1)), "endTime": iso(timedelta(hours=2))})
    assert status == 200 and body["blackout"]["status"] == "pending"
    assert (await stack.post_alert(alert(resource)))[0] == 201
    await stack.request("PUT", f"/blackout/{blackout['id']}", {"startTime": iso(-timedelta(minutes=1))})
    assert (await stack.post_alert(alert(resource)))[0] == 202
    await delete_blackout(stack, blackout["id"])
    assert (await stack.post_alert(alert(resource)))[0] == 201


async def test_a_webhook_alert_during_a_blackout_is_suppressed(stack: Stack) -> None:
    instance = unique()
    blackout = await make_blackout(stack, resource=instance)
    payload = {"version": "4", "status": "firing", "receiver": "alertbus", "alerts": [{
        "status": "firing", "labels": {"alertname": "Down", "instance": instance, "severity": "critical"},
        "annotations": {}, "startsAt": iso(timedelta(0))}]}
    status, body = await stack.request("POST", "/webhooks/prometheus", payload)
    assert status == 202 and body["message"] == SUPPRESSED, body
    await delete_blackout(stack, blackout["id"])


@pytest_asyncio.fixture(scope="module")
async def notifying(store_url: str) -> AsyncIterator[Stack]:
    """A stack of its own (database and broker namespace) with NOTIFICATION_BLACKOUT on."""
    async with start_stack(store_url, NOTIFICATION_BLACKOUT="true") as s:
        yield s


async def test_with_notification_the_alert_is_stored_with_status_blackout(notifying: Stack) -> None:
    resource = unique()
    blackout = await make_blackout(notifying, resource=resource)
    status, body = await notifying.post_alert(alert(resource))
    assert status == 201 and body["alert"]["status"] == "blackout", body
    assert body["alert"]["history"][-1]["status"] == "blackout"
    status, body = await notifying.post_alert(alert(resource, severity="critical"))
    assert status == 201 and body["alert"]["status"] == "blackout"
    status, body = await notifying.post_alert(alert(resource, severity="normal"))  # a normal severity closes
    assert status == 201 and body["alert"]["status"] == "closed"
    await delete_blackout(notifying, blackout["id"])
    status, body = await notifying.post_alert(alert(resource))
    assert status == 201 and body["alert"]["status"] == "open"


async def test_config_tells_the_default_duration(stack: Stack) -> None:
    status, body = await stack.request("GET", "/config")
    assert status == 200 and body["blackouts"] == {"duration": 3600}
