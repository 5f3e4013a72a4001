"""``GET /heartbeats``: status, latency and since computed at read time; filters and paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from services.query.filters import parse_heartbeat_query
from services.query.pipelines import HEARTBEAT_SHOWN
from services.query.reads import AlertQueries
from shared.render import heartbeat_body
from shared.store.housekeeping import HousekeepingQueries

from .support import Stack


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
    answer: dict[str, Any] = body
    return answer


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


async def seed_statuses(stack: Stack, expired: int, slow: int, ok: int) -> str:
    prefix = f"qt-hb-{uuid.uuid4().hex[:8]}"
    docs = [heartbeat(f"{prefix}/expired-{n}", age=120 + n, timeout=60) for n in range(expired)]
    docs += [heartbeat(f"{prefix}/slow-{n}", age=1 + n, latency_ms=2001 + n) for n in range(slow)]
    docs += [heartbeat(f"{prefix}/ok-{n}", age=1 + n, latency_ms=2000) for n in range(ok)]
    for doc in docs:
        doc["_failing"] = True  # an internal flag of the heartbeat watch: never listed
    await stack.store.heartbeats.insert_many(docs)
    return prefix


async def test_statuses_are_matched_and_paged_in_the_store(stack: Stack) -> None:
    prefix = await seed_statuses(stack, expired=7, slow=4, ok=5)
    origin = ("origin", f"~^{prefix}/")
    last = await listing(stack, origin, ("status", "expired"), ("page-size", "3"), ("page", "3"))
    assert (last["total"], last["pages"], last["more"], len(last["heartbeats"])) == (7, 3, False, 1)
    assert last["heartbeats"][0]["origin"] == f"{prefix}/expired-6"  # newest first: the oldest is last
    alive = await listing(stack, origin, ("status", "ok"), ("status", "slow"), ("page-size", "100"))
    assert alive["total"] == 9
    assert {hb["origin"].split("/")[1].split("-")[0]: hb["status"] for hb in alive["heartbeats"]} == {
        "ok": "ok", "slow": "slow"}
    everything = await listing(stack, origin, ("status", "ok"), ("status", "slow"), ("status", "expired"))
    assert everything["total"] == 16 and (await listing(stack, origin))["total"] == 16
    by_id = await listing(stack, origin, ("sort-by", "-id"), ("page-size", "100"))
    ids = [hb["id"] for hb in by_id["heartbeats"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 16


async def test_listed_heartbeats_are_read_with_their_shown_fields_only(stack: Stack) -> None:
    prefix = await seed_statuses(stack, expired=1, slow=1, ok=1)
    queries = AlertQueries(stack.store, max_time_ms=5000)
    query = parse_heartbeat_query([("origin", f"~^{prefix}/")])
    docs, total = await queries.heartbeat_page(query.filter, (), query.sort, 0, 2, now=datetime.now(UTC),
                                               max_latency_ms=2000)
    assert total == 3 and len(docs) == 2
    assert all(set(doc) <= {"_id", *HEARTBEAT_SHOWN} and "_failing" not in doc for doc in docs)


async def test_expired_origins_agree_with_the_rendered_status(stack: Stack) -> None:
    """The health check's query: the store decides expiry with the rule the list renders with, to the millisecond
    (a heartbeat is expired once ``since``, in whole seconds, exceeds its timeout)."""
    prefix = f"qt-hb-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    received = now.replace(microsecond=now.microsecond // 1000 * 1000)
    docs = [heartbeat(f"{prefix}/{name}", age=0, timeout=60) for name in ("just", "almost", "fresh", "old")]
    for doc, back in zip(docs, (timedelta(seconds=61), timedelta(seconds=60, milliseconds=999),
                                timedelta(seconds=1), timedelta(days=3)), strict=True):
        doc["receiveTime"], doc["createTime"] = received - back, received - back
    await stack.store.heartbeats.insert_many(docs)
    expired = await HousekeepingQueries(stack.store).expired_origins(now, limit=10_000, max_time_ms=5000)
    ours = [origin for origin in expired if origin.startswith(prefix)]
    rendered = sorted(doc["origin"] for doc in docs if heartbeat_body(doc, 2000, now)["status"] == "expired")
    assert ours == rendered == [f"{prefix}/just", f"{prefix}/old"]
    assert expired == sorted(expired)
    assert len(await HousekeepingQueries(stack.store).expired_origins(now, limit=1)) == 1
