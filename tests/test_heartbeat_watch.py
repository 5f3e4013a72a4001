"""The heartbeat watch: a heartbeat that expires raises HeartbeatFail for its origin, a fresh one closes it with
HeartbeatOK — done by the server, not by a cron job. A stack of its own, watching every second."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from services.ingest.heartbeat_watch import FAIL, OK, ORIGIN, heartbeat_alert

from .support import Stack, eventually, start_stack


@pytest_asyncio.fixture(scope="module")
async def own(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url, schedules=True, HEARTBEAT_WATCH_INTERVAL=1, HOUSEKEEPING_INTERVAL=0) as stack:
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
