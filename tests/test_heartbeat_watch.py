"""The heartbeat watch: a heartbeat that expires raises HeartbeatFail for its origin, a fresh one closes it with
HeartbeatOK — done by the server, not by a cron job. A stack of its own, watching every second; and one with the
default longest sleep (60 s), where the watch is on time only by sleeping until the next heartbeat is due and by
being woken by the worker that wrote one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest_asyncio

from services.ingest.heartbeat_watch import FAIL, OK, ORIGIN, heartbeat_alert
from services.ingest.schedules import Schedule, Scheduler
from shared.store.heartbeats import WATCH_AT, WATCH_FLAG
from shared.store.leases import Lease, Leases

from .support import Stack, eventually, start_stack

PRECISION = 3.0  # seconds: the watch aims at 2 (its precision is well under 1 s); the margin is for a busy machine


@pytest_asyncio.fixture(scope="module")
async def own(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url, schedules=True, HEARTBEAT_WATCH_INTERVAL=1, HOUSEKEEPING_INTERVAL=0) as stack:
        yield stack


@pytest_asyncio.fixture(scope="module")
async def sleepy(store_url: str) -> AsyncIterator[Stack]:
    """The default longest sleep: a watch that polled would be up to a minute late here."""
    async with start_stack(store_url, schedules=True, HEARTBEAT_WATCH_INTERVAL=60, HOUSEKEEPING_INTERVAL=0) as stack:
        yield stack


def origin() -> str:
    return f"watch-{uuid.uuid4().hex[:8]}/cron"


async def heartbeat(stack: Stack, origin: str, timeout: int, **fields: Any) -> None:
    status, body = await stack.request("POST", "/heartbeat", {"origin": origin, "timeout": timeout, **fields})
    assert status == 201, body


async def alerts_for(stack: Stack, resource: str) -> list[dict[str, Any]]:
    return await stack.store.alerts.find({"resource": resource}).to_list(None)


async def watch_runs(stack: Stack) -> float:
    return stack.metrics.registry.get_sample_value(
        "alertbus_schedule_runs_total", {"schedule": "heartbeat-watch", "outcome": "done"}) or 0.0


async def test_stale_heartbeat_raises_heartbeat_fail_and_a_fresh_one_closes_it(own: Stack) -> None:
    name, healthy = origin(), origin()
    await heartbeat(own, name, timeout=1)
    await heartbeat(own, healthy, timeout=600)

    async def failing() -> dict[str, Any] | None:
        docs = await alerts_for(own, name)
        return docs[0] if docs and docs[0]["event"] == FAIL else None

    doc = await eventually(failing, timeout=10)
    assert (doc["severity"], doc["status"], doc["environment"], doc["service"], doc["group"], doc["origin"]) == (
        "major", "open", "Production", ["alertbus"], "System", ORIGIN)
    assert doc["text"] == "Heartbeat not received in 1 seconds"
    assert doc["correlate"] == ["HeartbeatFail", "HeartbeatSlow", "HeartbeatOK"]
    await heartbeat(own, name, timeout=600)  # the cron job runs again

    async def closed() -> dict[str, Any] | None:
        docs = await alerts_for(own, name)
        return docs[0] if docs and docs[0]["event"] == OK else None

    doc = await eventually(closed, timeout=10)
    assert len(await alerts_for(own, name)) == 1, "HeartbeatOK correlates with the failure: one alert"
    assert (doc["severity"], doc["status"], doc["previousSeverity"]) == ("normal", "closed", "major")
    runs = await watch_runs(own)
    await eventually(lambda: _more_runs(own, runs, 2), timeout=10)
    assert (await alerts_for(own, name))[0]["event"] == OK, "no HeartbeatOK again, no new failure"
    assert await alerts_for(own, healthy) == [], "a heartbeat that never failed raises nothing"


async def _more_runs(stack: Stack, since: float, count: int) -> bool:
    return await watch_runs(stack) >= since + count


async def test_heartbeat_attributes_choose_environment_service_and_group(own: Stack) -> None:
    name = origin()
    attributes = {"environment": "Development", "service": "billing", "group": "Batch"}
    await heartbeat(own, name, timeout=1, attributes=attributes)

    async def failing() -> list[dict[str, Any]]:
        return await alerts_for(own, name)

    (doc,) = await eventually(failing, timeout=10)
    assert (doc["event"], doc["environment"], doc["service"], doc["group"]) == (
        FAIL, "Development", ["billing"], "Batch")
    await heartbeat(own, name, timeout=600, attributes=attributes)


def test_heartbeat_alert_as_the_alerta_client_builds_it() -> None:
    beat = {"origin": "o/1", "timeout": 30, "tags": ["t"], "attributes": {"service": ["a", "b"]}}
    fail = heartbeat_alert(beat, FAIL, 45, 86400)
    assert (fail["resource"], fail["severity"], fail["service"], fail["value"], fail["tags"]) == (
        "o/1", "major", ["a", "b"], "45s", ["t"])
    ok = heartbeat_alert(beat, OK, 0, 86400)
    assert (ok["severity"], ok["text"], ok["timeout"]) == ("normal", "Heartbeat OK", 86400)
    assert fail["customer"] is None  # a heartbeat without a customer
    assert heartbeat_alert({**beat, "customer": "Acme"}, FAIL, 45, 86400)["customer"] == "Acme"


async def test_heartbeat_fail_within_seconds_of_expiry_and_closed_within_seconds_of_a_fresh_heartbeat(
        sleepy: Stack) -> None:
    name, healthy = origin(), origin()
    await heartbeat(sleepy, healthy, timeout=600)
    await asyncio.sleep(1)  # the watch has passed once and sleeps: nothing is due within its longest sleep
    await heartbeat(sleepy, name, timeout=2)
    stored = await sleepy.store.heartbeats.find_one({"origin": name})
    assert stored is not None
    # Expired from the instant the API says so: since (whole seconds) > timeout.
    expiry = stored["receiveTime"] + timedelta(seconds=2 + 1)
    assert stored[WATCH_AT] == expiry

    async def failing() -> dict[str, Any] | None:
        docs = await alerts_for(sleepy, name)
        return docs[0] if docs and docs[0]["event"] == FAIL else None

    raised = await eventually(failing, timeout=10, interval=0.05)
    fail_latency = (raised["createTime"] - expiry).total_seconds()  # the watch's publish, stamped by the worker
    status, body = await sleepy.request("GET", f"/heartbeat/{stored['_id']}")
    assert status == 200 and body["heartbeat"]["status"] == "expired"
    assert (await sleepy.store.heartbeats.find_one({"origin": name}) or {}).get(WATCH_FLAG) is True

    await heartbeat(sleepy, name, timeout=600)
    fresh = await sleepy.store.heartbeats.find_one({"origin": name})
    assert fresh is not None

    async def closed() -> dict[str, Any] | None:
        docs = await alerts_for(sleepy, name)
        return docs[0] if docs and docs[0]["event"] == OK and docs[0]["status"] == "closed" else None

    done = await eventually(closed, timeout=10, interval=0.05)
    ok_latency = (done["lastReceiveTime"] - fresh["receiveTime"]).total_seconds()
    print(f"expiry -> HeartbeatFail {fail_latency:.3f} s; fresh heartbeat -> HeartbeatOK (closed) {ok_latency:.3f} s")
    assert 0 <= fail_latency < PRECISION, f"HeartbeatFail {fail_latency:.3f} s after the expiry"
    assert 0 <= ok_latency < PRECISION, f"HeartbeatOK {ok_latency:.3f} s after the fresh heartbeat"
    assert WATCH_FLAG not in (await sleepy.store.heartbeats.find_one({"origin": name}) or {})
    assert await alerts_for(sleepy, healthy) == [], "a heartbeat that never failed raises nothing"


async def test_a_heartbeat_written_before_the_field_existed_is_looked_at(sleepy: Stack) -> None:
    """A heartbeat without ``_watchAt`` (an earlier version's) is made due when the index is created; one made
    due early (here, by hand) is looked at and put back on its deadline."""
    name = origin()
    await heartbeat(sleepy, name, timeout=600)
    stored = await sleepy.store.heartbeats.find_one({"origin": name})
    assert stored is not None
    await sleepy.store.heartbeats.update_one({"_id": stored["_id"]}, {"$set": {WATCH_AT: datetime(1970, 1, 1)}})

    async def rescheduled() -> bool:
        doc = await sleepy.store.heartbeats.find_one({"origin": name})
        return doc is not None and doc[WATCH_AT] == stored[WATCH_AT]

    await heartbeat(sleepy, origin(), timeout=0)  # due within the longest sleep: wakes the watch
    await eventually(rescheduled, timeout=10)
    assert await alerts_for(sleepy, name) == []


async def test_a_holder_that_loses_its_lease_stops(own: Stack) -> None:
    runs: list[float] = []
    loop = asyncio.get_running_loop()

    async def run(lease: Lease) -> dict[str, int]:
        runs.append(loop.time())
        return {"ran": 1}

    async def pause(lease: Lease) -> None:
        await asyncio.sleep(0.1)

    schedule = Schedule(f"test-{uuid.uuid4().hex[:8]}", 60, run, pause)
    holder = Scheduler(Leases(own.store), own.metrics, [schedule], ttl=1.5)
    task = asyncio.create_task(holder.run_once(schedule))
    await eventually(lambda: _true(len(runs) >= 3))
    # Another replica takes the lease over (as after this one stalled past its ttl): a renewal finds it gone.
    await own.store.db["leases"].update_one({"_id": schedule.name}, {"$set": {"owner": "another/replica"}})
    assert await asyncio.wait_for(task, 5) is True, "the holder ends its runs"
    stopped = loop.time()
    await asyncio.sleep(0.5)
    assert not [t for t in runs if t > stopped], "no run after the lease was lost"
    lease = await own.store.db["leases"].find_one({"_id": schedule.name})
    assert lease is not None and lease["owner"] == "another/replica", "the loser released nothing"


async def _true(value: bool) -> bool:
    return value
