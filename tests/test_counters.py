"""The materialised counters against the real stack: they equal a fresh aggregation after a mixed workload sent
through the API, a crashed batch's journal is recovered, they are built for an existing database and rebuilt on
demand, and the matcher agrees with the database. A stack with a database of its own, so that the audits (which
compare every counter) see only what these tests do."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest_asyncio

from services.embedded import free_port
from services.ingest.ops import create_ops_app
from services.query.filters import parse_alert_query
from shared.store import AlertWrite
from shared.store.counter_keys import SEVERITY_FIELDS, Footprint, JournalEntry, key_filter
from shared.store.counters import BUILT_ID, JOURNAL, Counters

from .support import ADMIN_KEY, Stack, alert, eventually, serving, start_stack, unique
from .support.documents import seed, stored_alert

FALLBACK = ("resource", "~.")  # a condition on another field: counted by aggregation, whatever else is asked


@pytest_asyncio.fixture(scope="module")
async def own(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url) as stack:
        yield stack


async def get(stack: Stack, path: str, *params: tuple[str, str]) -> dict[str, Any]:
    status, body = await stack.request("GET", f"{path}?{urlencode(params)}")
    assert status == 200, body
    answer: dict[str, Any] = body
    return answer


async def created(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    status, answer = await stack.post_alert(body)
    assert status == 201, answer
    stored: dict[str, Any] = answer["alert"]
    return stored


async def command(stack: Stack, method: str, path: str, body: Any = None) -> None:
    status, answer = await stack.request(method, path, body)
    assert status == 200, answer


async def mixed_workload(stack: Stack) -> None:
    """Creates, duplicates, severity changes, an event change, closes, status commands, tags, a delete, an
    expiry by housekeeping, an alert without a service, and a burst of asynchronous duplicates."""
    env2 = "Development"
    web = await created(stack, alert(unique("web"), service=["Web", "Frontend.eu"]))
    db = await created(stack, alert(unique("db"), "DiskFull", "minor", service=["Database"]))
    dev = await created(stack, alert(unique("dev"), environment=env2, service=["Web"]))
    node = await created(stack, alert(unique("node"), correlate=["NodeDown", "NodeUp"]))
    short = await created(stack, alert(unique("short"), "Timeout", timeout=1))
    for _ in range(3):
        await created(stack, alert(web["resource"], service=["Web", "Frontend.eu"]))
    await created(stack, alert(db["resource"], "DiskFull", "critical", service=["Database"]))  # severity change
    await created(stack, alert(node["resource"], "NodeUp", "normal", correlate=["NodeDown", "NodeUp"]))  # closes
    await command(stack, "PUT", f"/alert/{web['id']}/status", {"status": "ack", "text": "mine"})
    await command(stack, "PUT", f"/alert/{db['id']}/action", {"action": "shelve"})
    await command(stack, "PUT", f"/alert/{dev['id']}/tag", {"tags": ["noted"]})
    await command(stack, "DELETE", f"/alert/{dev['id']}")
    await seed(stack.store, [stored_alert("Production", unique("bare"), "Orphan", service=[])])
    burst = unique("burst")
    await created(stack, alert(burst, "Burst", service=["Web"]))
    for _ in range(5):
        status, _ = await stack.post_alert(alert(burst, "Burst", service=["Web"]),
                                           headers={"Prefer": "respond-async"})
        assert status == 202
    await asyncio.sleep(1.2)  # past the short alert's timeout
    status, report = await stack.request("POST", "/management/housekeeping")
    assert status == 200 and short["id"] in report["expired"], report

    async def settled() -> bool:
        expired = await stack.store.get_alert(short["id"])
        bursting = await get(stack, "/alerts", ("resource", burst))
        return bool(expired and expired["status"] == "expired" and bursting["alerts"]
                    and bursting["alerts"][0]["duplicateCount"] == 5)

    await eventually(settled)


async def test_counters_equal_an_aggregation_after_a_mixed_workload(own: Stack) -> None:
    await mixed_workload(own)
    assert await Counters(own.store).audit() == []
    # The answers from the counters equal those of the aggregation (a filter on another field forces it).
    for path, params in (("/alerts/count", [("environment", "Production")]), ("/alerts/count", []),
                         ("/alerts/count", [("status!", "open"), ("severity", "~^(major|critical)$")]),
                         ("/environments", []), ("/alerts", [("environment", "Production"), ("sort-by", "severity")])):
        counted, aggregated = await get(own, path, *params), await get(own, path, *params, FALLBACK)
        for name in ("total", "severityCounts", "statusCounts", "environments"):
            assert counted.get(name) == aggregated.get(name), (path, params, name)
    counted = await get(own, "/alerts/top10", ("environment", "Production"))
    aggregated = await get(own, "/alerts/top10", ("environment", "Production"), FALLBACK)
    assert counted["top10"] == aggregated["top10"] and counted["total"] >= 3
    web = next(row for row in counted["top10"] if row["event"] == "NodeDown")
    assert web["services"] == ["Frontend.eu", "Web"] and web["duplicateCount"] >= 6


async def test_recovery_takes_back_a_write_that_never_landed(own: Stack) -> None:
    doc = await own.store.get_alert((await created(own, alert(unique("lost"))))["id"])
    assert doc is not None
    counters = Counters(own.store)
    entry = JournalEntry(doc["_id"], ("never-landed",), (), Footprint.of(doc), Footprint.of({**doc, "status": "ack"}))
    journal = await counters.begin([entry])  # the worker dies here: the alert write never happens
    assert journal is not None and await counters.audit() != []
    assert (await counters.recover())["journals"] == 0  # too young: its batch may still be writing
    await backdate(own, journal)
    assert await counters.recover() == {"journals": 1, "compensated": 1}
    assert await counters.audit() == []
    assert await own.store.db["counters"].find_one({"_id": journal}) is None


async def test_recovery_keeps_a_write_that_landed_and_tells_a_redelivery_apart(own: Stack) -> None:
    doc = await own.store.get_alert((await created(own, alert(unique("kept"))))["id"])
    assert doc is not None
    counters, rid = Counters(own.store), str(uuid.uuid4())
    acked = {**doc, "status": "ack", "_rids": [*doc["_rids"], rid]}
    first = JournalEntry(doc["_id"], (rid,), (), Footprint.of(doc), Footprint.of(acked))
    lost = await counters.begin([first])  # killed before the alert write
    # The redelivered message is applied again by another worker: same receive id, a marker, and it lands.
    again = JournalEntry(doc["_id"], (rid,), (rid,), Footprint.of(doc), Footprint.of(acked))
    redone = await counters.begin([again])
    assert await own.store.write_alerts([AlertWrite(dict(acked), doc["_v"])]) == set()
    await counters.settle(redone, [again], set())
    # A third batch lands its write but dies before dropping its journal.
    current = await own.store.get_alert(doc["_id"])
    assert current is not None
    closing = {**current, "status": "closed", "_rids": [*current["_rids"], "third"]}
    third = JournalEntry(doc["_id"], ("third",), (), Footprint.of(current), Footprint.of(closing))
    landed = await counters.begin([third])
    assert await own.store.write_alerts([AlertWrite(dict(closing), current["_v"])]) == set()
    for journal in (lost, landed):
        await backdate(own, journal)
    assert await counters.recover() == {"journals": 2, "compensated": 1}
    assert await counters.audit() == []


async def test_a_write_that_lost_a_race_is_taken_back_at_once(own: Stack) -> None:
    doc = await own.store.get_alert((await created(own, alert(unique("race"))))["id"])
    assert doc is not None
    counters = Counters(own.store)
    entry = JournalEntry(doc["_id"], ("r",), (), Footprint.of(doc), Footprint.of({**doc, "status": "ack"}))
    journal = await counters.begin([entry])
    stale = AlertWrite({**doc, "status": "ack"}, "not-the-token-it-has")
    conflicts = await own.store.write_alerts([stale])
    assert conflicts == {doc["_id"]}
    await counters.settle(journal, [entry], conflicts)
    assert await counters.audit() == []
    assert await own.store.db["counters"].find_one({"_id": journal}) is None


async def test_counters_are_built_for_an_existing_database_and_rebuilt_on_demand(own: Stack) -> None:
    await created(own, alert(unique("existing")))
    counters, collection = Counters(own.store), own.store.db["counters"]
    before = await get(own, "/alerts/count")
    await collection.delete_many({})  # a database from before the counters
    assert (await get(own, "/alerts/count"))["total"] == before["total"]  # by aggregation meanwhile
    await counters.start_up()
    assert await collection.find_one({"_id": BUILT_ID}) is not None and await counters.audit() == []
    await collection.update_many({"kind": "A"}, {"$inc": {"n.open.major": 5}})  # off, for whatever reason
    assert await counters.audit() != []
    async with serving(create_ops_app(own.workers[0]), free_port()) as base:
        url = f"{base}/management/recount"
        async with own.session.post(url) as response:
            assert response.status == 401
        async with own.session.post(url, headers={"Authorization": f"Key {ADMIN_KEY}"}) as response:
            body = await response.json()
            assert response.status == 200 and body["status"] == "ok" and body["alerts"] >= 1, body
    assert await counters.audit() == []
    assert await get(own, "/alerts/count") == before


async def backdate(stack: Stack, journal: str | None) -> None:
    """As if the batch had died an hour ago."""
    assert journal is not None
    doc = await stack.store.db["counters"].find_one({"_id": journal, "kind": JOURNAL})
    assert doc is not None
    await stack.store.db["counters"].update_one({"_id": journal}, {"$set": {"at": doc["at"] - timedelta(hours=1)}})


MATCHER_FILTERS = [
    [("environment", "Production")], [("status", "open"), ("status", "ack")], [("status!", "closed")],
    [("environment", "~^prod"), ("severity!", "~maj")], [("severity", "major"), ("severity", "~^crit")],
    [("q", json.dumps({"$or": [{"status": {"$in": ["ack", "shelved"]}}, {"severity": {"$nin": ["minor"]}}]}))],
    [("q", json.dumps({"environment": {"$regex": "DEV", "$options": "i"}, "status": {"$ne": "open"}}))],
    [("environment!", "QA"), ("environment!", "Development")],
]


async def test_the_matcher_agrees_with_the_database(stack: Stack) -> None:
    """Keys as alert-like documents in a scratch collection: the database's answer to each filter is the
    matcher's."""
    scratch = stack.store.db[f"matcher_{uuid.uuid4().hex[:8]}"]
    keys = [{"_id": f"{env}/{status}/{severity}", "environment": env, "status": status, "severity": severity}
            for env in ("Production", "Development", "QA", "prod-eu")
            for status in ("open", "ack", "closed", "expired", "shelved")
            for severity in ("critical", "major", "minor", "informational")]
    await scratch.insert_many(keys)
    try:
        for params in MATCHER_FILTERS:
            for flt in (parse_alert_query(params).filter, parse_alert_query(params).visible()):
                predicate = key_filter(flt, SEVERITY_FIELDS)
                assert predicate is not None, flt
                expected = {doc["_id"] async for doc in scratch.find(flt)}
                assert {key["_id"] for key in keys if predicate(key)} == expected, flt
    finally:
        await scratch.drop()
