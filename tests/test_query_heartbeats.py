"""``GET /heartbeats``: status, latency and since computed at read time; filters and paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .conftest import Stack


def heartbeat(origin: str, *, age: float, latency_ms: int = 10, timeout: int = 60, tags: list[str] | None = None
              ) -> dict[str, Any]:
    received = datetime.now(UTC) - timedelta(seconds=age)
    return {
        "_id": str(uuid.uuid4()), "origin": origin, "tags": tags or [], "attributes": {}, "type": "Heartbeat",
        "createTime": received - timedelta(milliseconds=latency_ms), "receiveTime": received, "timeout": timeout,
    }


async def listing(stack: Stack, *params: tuple[str, str]) -> dict[str, Any]:
    status, body = await stack.request("GET", f"/heartbeats?{urlencode(params)}")
    assert status == 200, body
    return body


async def seed_heartbeats(stack: Stack) -> str:
    prefix = f"qt-hb-{uuid.uuid4().hex[:8]}"
    await stack.store.heartbeats.insert_many([
        heartbeat(f"{prefix}/ok", age=1, tags=["eu"]),
        heartbeat(f"{prefix}/slow", age=2, latency_ms=5000),
        heartbeat(f"{prefix}/gone", age=600, timeout=60, tags=["eu"]),
    ])
    return prefix


async def test_heartbeats_have_computed_status(stack: Stack) -> None:
    prefix = await seed_heartbeats(stack)
    body = await listing(stack, ("origin", f"~^{prefix}/"))
    assert body["total"] == 3 and body["time"].endswith("Z")
    by_origin = {hb["origin"].split("/")[-1]: hb for hb in body["heartbeats"]}
    assert {name: hb["status"] for name, hb in by_origin.items()} == {"ok": "ok", "slow": "slow", "gone": "expired"}
    assert by_origin["slow"]["latency"] == 5000 and by_origin["ok"]["latency"] == 10
    assert by_origin["gone"]["since"] >= 600 and by_origin["ok"]["maxLatency"] == 2000
    assert by_origin["ok"]["href"] == f"{stack.url}/heartbeat/{by_origin['ok']['id']}"
    assert [hb["origin"].split("/")[-1] for hb in body["heartbeats"]] == ["ok", "slow", "gone"]  # newest first


async def test_heartbeats_filter_by_status_tags_and_page(stack: Stack) -> None:
    prefix = await seed_heartbeats(stack)
    origin = ("origin", f"~^{prefix}/")
    expired = await listing(stack, origin, ("status", "expired"))
    assert [hb["origin"] for hb in expired["heartbeats"]] == [f"{prefix}/gone"]
    not_ok = await listing(stack, origin, ("status", "slow"), ("status", "expired"))
    assert not_ok["total"] == 2
    tagged = await listing(stack, origin, ("tags", "eu"))
    assert sorted(hb["origin"] for hb in tagged["heartbeats"]) == [f"{prefix}/gone", f"{prefix}/ok"]
    paged = await listing(stack, origin, ("page", "2"), ("page-size", "2"))
    assert [hb["origin"] for hb in paged["heartbeats"]] == [f"{prefix}/gone"]
    assert (paged["total"], paged["pages"], paged["more"]) == (3, 2, False)


async def test_posted_heartbeat_is_listed(stack: Stack) -> None:
    origin = f"qt-hb-{uuid.uuid4().hex[:8]}/posted"
    status, posted = await stack.request("POST", "/heartbeat", {"origin": origin, "timeout": 120})
    assert status == 201, posted
    body = await listing(stack, ("origin", origin))
    assert [hb["id"] for hb in body["heartbeats"]] == [posted["id"]]
    assert body["heartbeats"][0]["status"] == "ok"


async def test_no_heartbeats_is_200_with_an_empty_list(stack: Stack) -> None:
    body = await listing(stack, ("origin", f"nobody-{uuid.uuid4().hex}"))
    assert body["heartbeats"] == [] and body["total"] == 0


async def test_heartbeat_filters_are_checked(stack: Stack) -> None:
    for params, name in ([("status", "asleep")], "status"), ([("resource", "x")], "resource"), (
            [("page", "0")], "page"):
        status, body = await stack.request("GET", f"/heartbeats?{urlencode(params)}")
        assert status == 400 and name in body["message"], body
