"""Housekeeping: expiry on the server's schedule, deletion on demand, guarded commands that make repeated and
concurrent runs harmless, and the lease that lets one scheduler run at a time. A stack of its own (its own
database), with housekeeping every second and deletion left to the on-demand runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from alertaclient.api import Client

from services.gateway import views
from services.ingest.housekeeping import EXPIRE_TEXT, expire_command, housekeep
from services.ingest.schedules import Schedule, Scheduler
from shared.broker import Names, RpcClient
from shared.housekeeping import Thresholds, request_body
from shared.store.housekeeping import HousekeepingQueries
from shared.store.leases import Lease, LeaseBusy, Leases

from .support import ADMIN_KEY, Stack, alert, eventually, start_stack, unique


@pytest_asyncio.fixture(scope="module")
async def own(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url, schedules=True, HOUSEKEEPING_INTERVAL=1, HEARTBEAT_WATCH_INTERVAL=0,
                           DELETE_EXPIRED_AFTER=0, DELETE_INFO_AFTER=0) as stack:
        yield stack


@pytest_asyncio.fixture(scope="module")
async def rpc(own: Stack) -> RpcClient:
    client = RpcClient(own.connection, own.settings)
    await client.start()
    return client


async def stored(stack: Stack, ident: str) -> dict[str, Any]:
    doc = await stack.store.get_alert(ident)
    assert doc is not None
    return doc


def expiries(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in doc["history"] if entry["type"] == "expired"]


async def test_alert_past_its_timeout_becomes_expired_with_a_history_entry(own: Stack) -> None:
    status, body = await own.post_alert(alert(unique(), timeout=1))
    assert status == 201 and body["alert"]["status"] == "open"

    async def expired() -> dict[str, Any] | None:
        doc = await stored(own, body["id"])
        return doc if doc["status"] == "expired" else None

    doc = await eventually(expired, timeout=10)
    (entry,) = expiries(doc)
    assert (entry["status"], entry["text"], entry["severity"]) == ("expired", EXPIRE_TEXT, "major")
    await asyncio.sleep(1.5)  # more scheduled runs: none applies it again
    assert len(expiries(await stored(own, body["id"]))) == 1
    status, shown = await own.request("GET", f"/alert/{body['id']}")
    assert shown["alert"]["status"] == "expired" and "expireTime" not in shown["alert"]


async def test_a_repeated_or_late_expiry_is_skipped(own: Stack, rpc: RpcClient) -> None:
    _, body = await own.post_alert(alert(unique()))
    command = expire_command(await stored(own, body["id"]))
    before = own.metrics.registry.get_sample_value("alertbus_commands_skipped_total", {"op": "action"}) or 0

    async def send(cmd: dict[str, Any]) -> int:
        reply = await rpc.send_command(cmd, user=None)
        assert not reply.queued, reply
        return reply.status

    assert await send(command) == 200
    assert await send(command) == 412  # a repeated run: already expired
    assert (await own.post_alert(alert(body["alert"]["resource"])))[0] == 201  # received again: re-opened
    assert await send(command) == 412  # a late one: the alert received something since
    doc = await stored(own, body["id"])
    assert doc["status"] == "open" and len(expiries(doc)) == 1
    after = own.metrics.registry.get_sample_value("alertbus_commands_skipped_total", {"op": "action"})
    assert after == before + 2


async def test_concurrent_runs_expire_an_alert_once(own: Stack, rpc: RpcClient) -> None:
    """Two runs that bypass the lease, racing each other and the scheduled run: the guards let one apply."""
    _, body = await own.post_alert(alert(unique(), timeout=1))
    queries = HousekeepingQueries(own.store)
    await asyncio.sleep(1.05)
    reports = await asyncio.gather(*(housekeep(queries, rpc, Thresholds(0, 0), own.metrics) for _ in range(2)))

    async def expired() -> dict[str, Any] | None:
        doc = await stored(own, body["id"])
        return doc if doc["status"] == "expired" else None

    doc = await eventually(expired, timeout=10)
    assert len(expiries(doc)) == 1
    assert sum(body["id"] in report.expired for report in reports) <= 1


async def test_one_scheduler_at_a_time_and_once_per_interval(own: Stack) -> None:
    runs: list[str] = []

    async def run(lease: Lease) -> dict[str, int]:
        runs.append(lease.owner)
        await asyncio.sleep(0.3)
        return {"ran": 1}

    schedule = Schedule(f"test-{uuid.uuid4().hex[:8]}", 60, run)
    schedulers = [Scheduler(Leases(own.store), own.metrics, [schedule]) for _ in range(2)]
    assert sorted(await asyncio.gather(*(s.run_once(schedule) for s in schedulers))) == [False, True]
    assert len(runs) == 1
    # The next run is due one interval after this one started, whichever replica asks.
    assert await asyncio.gather(*(s.run_once(schedule) for s in schedulers)) == [False, False]
    assert len(runs) == 1


async def test_a_dead_holders_lease_runs_out_and_a_failed_run_is_due_again(own: Stack) -> None:
    leases, name = Leases(own.store), f"test-{uuid.uuid4().hex[:8]}"
    assert await leases.acquire(name, ttl=0.5) is not None  # a holder that dies: never renewed nor released
    assert await leases.acquire(name, ttl=0.5, due_only=False) is None
    await asyncio.sleep(0.6)
    try:
        async with leases.hold(name, interval=3600):
            raise RuntimeError("the run failed half-way")
    except RuntimeError:
        pass
    async with leases.hold(name, interval=3600):  # due again at once: the failed run is repeated
        pass
    try:
        async with leases.hold(name, interval=3600):
            raise AssertionError("not due: it ran to the end a moment ago")
    except LeaseBusy:
        pass


async def test_housekeeping_on_demand_deletes_old_closed_and_informational_alerts(own: Stack) -> None:
    _, closed = await own.post_alert(alert(unique(), severity="normal"))
    _, info = await own.post_alert(alert(unique(), severity="informational"))
    _, recent = await own.post_alert(alert(unique(), severity="normal"))
    assert closed["alert"]["status"] == recent["alert"]["status"] == "closed"
    for doc in (closed, info):  # as if last received three hours ago
        stored_doc = await stored(own, doc["id"])
        await own.store.alerts.update_one(
            {"_id": doc["id"]}, {"$set": {"lastReceiveTime": stored_doc["lastReceiveTime"] - timedelta(hours=3)}})
    status, report = await own.request("POST", "/management/housekeeping?expired=2&info=2")
    assert status == 200 and report["status"] == "ok"
    assert sorted(report["deleted"]) == sorted([closed["id"], info["id"]]) and report["count"] >= 2
    assert (await own.request("GET", f"/alert/{closed['id']}"))[0] == 404
    assert (await own.request("GET", f"/alert/{info['id']}"))[0] == 404
    assert (await own.request("GET", f"/alert/{recent['id']}"))[0] == 200
    deleted = own.metrics.registry.get_sample_value("alertbus_housekeeping_alerts_total", {"action": "deleted"})
    assert deleted is not None and deleted >= 2


async def test_housekeeping_on_demand_needs_an_admin_key(own: Stack) -> None:
    assert (await own.request("POST", "/management/housekeeping", auth=False))[0] == 401
    assert (await own.request("GET", "/management/housekeeping?expired=soon"))[0] == 400
    assert (await own.request("GET", "/management/housekeeping?info=" + "9" * 40))[0] == 400
    assert (await own.request("GET", "/management/gtg", auth=False))[0] == 200


async def test_alerta_client_housekeeping_command_deletes_by_hours(own: Stack) -> None:
    """``alerta housekeeping --expired 24 --info 24`` (the client's GET with thresholds in hours): closed and
    informational alerts last received 25 hours ago go, those of 23 hours ago stay."""
    bodies = {}
    for name, severity, hours in (("old-closed", "normal", 25), ("old-info", "informational", 25),
                                  ("closed", "normal", 23), ("info", "informational", 23)):
        status, bodies[name] = await own.post_alert(alert(unique(name), severity=severity))
        assert status == 201, bodies[name]
        doc = await stored(own, bodies[name]["id"])
        await own.store.alerts.update_one(
            {"_id": doc["_id"]}, {"$set": {"lastReceiveTime": doc["lastReceiveTime"] - timedelta(hours=hours)}})
    client = Client(endpoint=own.url, key=ADMIN_KEY)
    try:
        await asyncio.to_thread(client.housekeeping, expired_delete_hours=24, info_delete_hours=24)
    finally:
        client.http.session.close()  # an open keep-alive connection would hold up the server's shutdown
    assert {name: await own.store.get_alert(body["id"]) is not None for name, body in bodies.items()} == {
        "old-closed": False, "old-info": False, "closed": True, "info": True}


async def test_on_demand_runs_in_an_ingest_worker_for_signed_well_formed_requests(own: Stack, rpc: RpcClient) -> None:
    """The ingest side owns housekeeping: the gateway only publishes a request; a worker answers it. A request
    a direct publisher makes (unsigned) or a malformed one is refused by the worker, which goes on."""
    reply = await rpc.request_housekeeping(request_body(0, 0), user="ops@example.com", timeout=10)
    assert reply.code == 200 and reply.body["status"] == "ok" and isinstance(reply.body["deleted"], list)
    unsigned = RpcClient(own.connection, own.settings.with_(service_secret=""))
    await unsigned.start()
    reply = await unsigned.request_housekeeping(request_body(0, 0), user="admin", timeout=10)
    assert (reply.code, reply.body["message"]) == (403, "a housekeeping request must be signed by an alertbus service")
    for body in ({"deleteExpiredAfter": "soon", "deleteInfoAfter": 0}, {"deleteExpiredAfter": 1.5},
                 {"deleteExpiredAfter": -1, "deleteInfoAfter": 0}, {"deleteExpiredAfter": True, "deleteInfoAfter": 0}):
        reply = await rpc.request_housekeeping(body, user=None, timeout=10)
        assert reply.code == 400 and "bad housekeeping request" in reply.body["message"], body
    assert (await own.request("POST", "/management/housekeeping"))[0] == 200, "the worker still answers"


async def test_on_demand_without_an_ingest_worker_is_503_and_the_request_expires(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "HOUSEKEEPING_WAIT", 1.0)
    async with start_stack(store_url) as stack:
        await stack.workers.pop().stop(grace=1)
        async with stack.session.post(stack.url + "/management/housekeeping", headers=stack.auth) as resp:
            assert resp.status == 503 and resp.headers["Retry-After"] == "10"
            assert "no ingest worker reported" in (await resp.json())["message"]
        channel = await stack.connection.channel()
        queue = await channel.declare_queue(Names.from_settings(stack.settings).housekeeping, passive=True)

        async def expired() -> bool | None:
            declared = await channel.declare_queue(queue.name, passive=True)
            return True if declared.declaration_result.message_count == 0 else None

        assert await eventually(expired, timeout=5), "a worker that starts later does not run a stale request"
        await channel.close()


async def test_a_released_lease_is_free_in_the_same_millisecond(own: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock is kept to the millisecond: a taker right after a release may read the very time the release
    wrote, and must get the lease (CI once saw LeaseBusy there)."""
    import shared.store.leases as lease_module
    from shared.store import now_ms

    frozen = now_ms()
    monkeypatch.setattr(lease_module, "now_ms", lambda: frozen)
    leases, name = Leases(own.store), f"test-{uuid.uuid4().hex[:8]}"
    first = await leases.acquire(name, ttl=30)
    assert first is not None
    await leases.release(first, next_run=frozen)
    assert await leases.acquire(name, ttl=30) is not None
