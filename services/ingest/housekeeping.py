"""Housekeeping, as Alerta's ``/management/housekeeping`` but run by the server on a schedule (the ingest
workers, under a lease) or on demand (``POST /management/housekeeping``: the gateway asks an ingest worker, see
``on_demand.py``): expire the alerts whose ``timeout`` passed, delete closed and
expired alerts after ``DELETE_EXPIRED_AFTER`` and informational ones after ``DELETE_INFO_AFTER`` (0: never).

It never writes an alert itself. It finds candidates with indexed reads and publishes a *guarded* command for each
through RabbitMQ, with the alert's ``<environment>/<resource>`` routing key, so that the ingest workers apply it
in order with the other messages of that alert. The guards (``ifLastReceiveTime``, ``ifStatus``) make a repeated,
late or concurrent run harmless: a command for an alert that received something since, or that is already
expired, is skipped (412); one for an alert deleted meanwhile finds nothing (404).

Alerta 9.1 expires every alert but an expired one; here a closed alert stays closed (it is deleted after
``DELETE_EXPIRED_AFTER`` like an expired one). Alerta's un-ack and un-shelve timeouts are not done here.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.broker import RpcClient
from shared.commands import ACTION, DELETE
from shared.fieldtypes import isoformat
from shared.housekeeping import Thresholds
from shared.metrics import Metrics
from shared.replies import Reply
from shared.severity import ACK, ASSIGN, BLACKOUT, CLOSED, EXPIRED, OPEN, SHELVED, UNKNOWN
from shared.store.core import now_ms
from shared.store.housekeeping import HousekeepingQueries
from shared.store.leases import Lease

log = logging.getLogger("alertbus.housekeeping")
NAME = "housekeeping"  # the lease, the schedule and the metrics label
USER = "alertbus/housekeeping"  # the user its commands are sent as (the ``user`` header)
EXPIRE_TEXT = "alert timeout status change"
EXPIRABLE = (OPEN, ASSIGN, ACK, SHELVED, BLACKOUT, UNKNOWN)
DELETABLE = (CLOSED, EXPIRED)
ROUND = 500  # candidates read per query; a run reads again while a query came back full ...
MAX_ROUNDS = 20  # ... at most this often (the next run goes on)
PARALLEL = 64  # commands in flight at once


@dataclass
class Report:
    expired: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: int = 0  # the alert changed, was gone, or refused the transition: nothing applied
    pending: int = 0  # no answer in time: the command is queued and will be applied (or skipped) later

    def body(self) -> dict[str, Any]:
        """The answer of ``POST /management/housekeeping`` (Alerta's fields where they exist)."""
        return {"status": "ok", "expired": self.expired, "deleted": self.deleted, "skipped": self.skipped,
                "pending": self.pending, "count": len(self.expired) + len(self.deleted)}

    def counts(self) -> dict[str, int]:
        return {"expired": len(self.expired), "deleted": len(self.deleted), "skipped": self.skipped,
                "pending": self.pending}


def _command(doc: dict[str, Any], user: str | None, **fields: Any) -> dict[str, Any]:
    return {"id": doc["_id"], "environment": doc["environment"], "resource": doc["resource"], "user": user,
            "ifLastReceiveTime": isoformat(doc["lastReceiveTime"]), **fields}


def expire_command(doc: dict[str, Any], user: str | None = None) -> dict[str, Any]:
    return _command(doc, user, op=ACTION, action="expired", text=EXPIRE_TEXT, ifStatus=list(EXPIRABLE))


def delete_command(doc: dict[str, Any], user: str | None = None) -> dict[str, Any]:
    # An informational alert is deleted whatever its status; a closed/expired one only while it still is.
    statuses = list(DELETABLE) if doc["status"] in DELETABLE and doc.get("severity") != "informational" else None
    return _command(doc, user, op=DELETE, ifStatus=statuses)


async def candidates(queries: HousekeepingQueries, thresholds: Thresholds,
                     now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """(to expire, to delete, whether a query came back full). An alert due for both is only deleted."""
    deleting: list[dict[str, Any]] = []
    if thresholds.delete_expired_after:
        before = now - timedelta(seconds=thresholds.delete_expired_after)
        deleting += await queries.received_before(DELETABLE, before, ROUND)
    full = len(deleting) >= ROUND
    if thresholds.delete_info_after:
        info = await queries.informational_before(now - timedelta(seconds=thresholds.delete_info_after), ROUND)
        full = full or len(info) >= ROUND
        deleting += info
    deleting = list({doc["_id"]: doc for doc in deleting}.values())
    expiring = await queries.expiring(EXPIRABLE, now, ROUND)
    full = full or len(expiring) >= ROUND
    doomed = {doc["_id"] for doc in deleting}
    return [doc for doc in expiring if doc["_id"] not in doomed], deleting, full


async def housekeep(queries: HousekeepingQueries, rpc: RpcClient, thresholds: Thresholds, metrics: Metrics, *,
                    lease: Lease | None = None, user: str | None = None) -> Report:
    """One run: rounds of candidates, each applied (and answered) before the next round is read."""
    report = Report()
    run_id = f"{NAME}-{uuid.uuid4().hex[:12]}"  # the request id of its commands, in the workers' log lines
    for _ in range(MAX_ROUNDS):
        if lease is not None and lease.lost:
            break
        expiring, deleting, full = await candidates(queries, thresholds, now_ms())
        commands = [expire_command(doc, user) for doc in expiring] + [delete_command(doc, user) for doc in deleting]
        await _send_all(rpc, commands, report, metrics, run_id)
        if not full:
            break
    return report


async def _send_all(rpc: RpcClient, commands: list[dict[str, Any]], report: Report, metrics: Metrics,
                    run_id: str) -> None:
    gate = asyncio.Semaphore(PARALLEL)

    async def send(command: dict[str, Any]) -> None:
        async with gate:
            reply = await rpc.send_command(command, user=USER, request_id=run_id)
        _record(report, command, reply, metrics)

    await asyncio.gather(*(send(command) for command in commands))


def _record(report: Report, command: dict[str, Any], reply: Reply, metrics: Metrics) -> None:
    if reply.queued:
        report.pending += 1
        return
    if reply.code == 200:
        done, action = (report.deleted, "deleted") if command["op"] == DELETE else (report.expired, "expired")
        done.append(command["id"])
        metrics.housekeeping_alerts.labels(action).inc()
        return
    report.skipped += 1
    if reply.code not in (404, 409, 412):
        log.warning("housekeeping %s of %s was answered %s: %.200s", command["op"], command["id"], reply.code,
                    reply.body)
