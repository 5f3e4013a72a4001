"""The heartbeat watch (what ``alerta heartbeats --alert`` does from cron, done by the server): a heartbeat that
expired raises ``HeartbeatFail`` for its origin, and once it is fresh again ``HeartbeatOK`` (normal severity,
correlated with the failure, so it closes it).

The alerts travel like any other (published on the ingest exchange with ``<environment>/<origin>``), so they are
de-duplicated and correlated by the workers. The heartbeat remembers that a failure is open (a flag the watch
alone writes), so that ``HeartbeatOK`` is sent only for origins that failed.

The watch does not scan the heartbeats: each carries when it is next due (shared/store/heartbeats.py), and one
replica at a time (the holder of the schedule's lease, see schedules.py) sleeps until the earliest of them and
reads only those due. It sleeps ``HEARTBEAT_WATCH_INTERVAL`` at most, and no more than the lookahead (``WINDOWS``,
16 s); it wakes early when the ingest worker that wrote a heartbeat tells it (the event ``heartbeat.due`` on
``alertbus.events``) that it is due sooner: a heartbeat with a short timeout, or a fresh one of a failing origin.
The event is a shortcut: were it lost, the heartbeat is found all the same, one longest sleep later. While a
heartbeat stays expired its failure is re-sent every ``HEARTBEAT_WATCH_INTERVAL``, a duplicate that keeps the
alert from expiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shared.broker import RpcClient
from shared.metrics import Metrics
from shared.render import heartbeat_body
from shared.schemas import ALERT_SCHEMA, BadInput, load_body
from shared.settings import Settings
from shared.store.heartbeats import LONG_AGO, WATCH_AT, WATCH_FLAG, HeartbeatWatchQueries, heartbeat_deadline
from shared.store.leases import Lease

log = logging.getLogger("alertbus.heartbeat-watch")
NAME = "heartbeat-watch"
FAIL, SLOW, OK = "HeartbeatFail", "HeartbeatSlow", "HeartbeatOK"
ORIGIN = "alertbus/heartbeat-watch"
DUE_EVENT = "due"  # routing key heartbeat.due on the events exchange
PASS_LIMIT = 1000  # heartbeats handled per pass; more due: the next pass follows at once
# Seconds ahead looked into for the next deadline, nearest window first. SecantusDB reads every heartbeat of a
# window (it stops no index scan at a limit), so a pass reads about those due before the next deadline (at most
# 4 times as many), never those of the whole longest sleep; the last window bounds the sleep.
WINDOWS = (1.0, 4.0, 16.0)
LEASE_CHECK = 1.0  # seconds: how late a holder that lost its lease may notice it while asleep


def heartbeat_alert(heartbeat: dict[str, Any], event: str, since: int, alert_timeout: int) -> dict[str, Any]:
    """The alert for a heartbeat, as the ``alerta`` client builds it (environment, service and group may be set
    by the heartbeat's attributes; the customer is the heartbeat's, so that two customers' heartbeats of one origin
    raise and close two alerts)."""
    attributes = heartbeat.get("attributes") or {}
    service = attributes.get("service") or "alertbus"
    failed = event == FAIL
    return {
        "resource": heartbeat["origin"], "event": event, "severity": "major" if failed else "normal",
        "environment": str(attributes.get("environment") or "Production"), "correlate": [FAIL, SLOW, OK],
        "service": [str(s) for s in service] if isinstance(service, list) else [str(service)],
        "group": str(attributes.get("group") or "System"), "value": f"{since}s" if failed else "",
        "text": f"Heartbeat not received in {heartbeat['timeout']} seconds" if failed else "Heartbeat OK",
        "tags": list(heartbeat.get("tags") or []), "origin": ORIGIN, "type": "heartbeatAlert",
        "timeout": alert_timeout, "customer": heartbeat.get("customer"),
    }


def longest_sleep(interval: float) -> timedelta:
    """How long the watch sleeps at most: ``HEARTBEAT_WATCH_INTERVAL``, or less (the last lookahead window)."""
    return timedelta(seconds=min(interval, WINDOWS[-1]))


def due_event(heartbeat: dict[str, Any], now: datetime, interval: float) -> dict[str, Any] | None:
    """The ``heartbeat.due`` event the ingest worker publishes after writing ``heartbeat``, when the watch must
    look at it before its longest sleep is over (None otherwise, and when the watch is off)."""
    due = heartbeat.get(WATCH_AT)
    if interval <= 0 or not isinstance(due, datetime) or due > now + longest_sleep(interval):
        return None
    return {"event": DUE_EVENT, "heartbeat": {"id": heartbeat["_id"], "due": due.isoformat()}}


class HeartbeatWatch:
    def __init__(self, queries: HeartbeatWatchQueries, rpc: RpcClient, settings: Settings, metrics: Metrics) -> None:
        self.queries, self.rpc, self.settings, self.metrics = queries, rpc, settings, metrics
        self.resend = timedelta(seconds=settings.ingest.heartbeat_watch_interval)  # of a failure, while it lasts
        self.longest = longest_sleep(settings.ingest.heartbeat_watch_interval)
        self.next_pass = LONG_AGO
        self.told = asyncio.Event()

    def wake(self, due: datetime) -> None:
        """A heartbeat is due at ``due``: the next pass comes no later (told by the worker that wrote it)."""
        if due < self.next_pass:
            self.next_pass = due
            self.told.set()

    async def run(self, lease: Lease) -> dict[str, int]:
        """One pass: the heartbeats due now; then when the next pass is due (at most the longest sleep ahead)."""
        now = datetime.now(UTC)
        self.next_pass = now + self.longest  # lowered by wake() meanwhile, and by the next deadline found below
        sent = {FAIL: 0, OK: 0}
        due = await self.queries.due(now, PASS_LIMIT)
        for heartbeat in due:
            if lease.lost:
                return sent
            await self._check(heartbeat, now, sent)
        self.next_pass = min(self.next_pass, now if len(due) >= PASS_LIMIT else await self._next_deadline(now))
        return sent

    async def _next_deadline(self, now: datetime) -> datetime:
        """The earliest deadline after ``now``, else the end of the longest sleep."""
        end = now + self.longest
        for window in WINDOWS:
            until = min(now + timedelta(seconds=window), end)
            earliest = await self.queries.next_due(now, until)
            if earliest is not None or until >= end:
                return earliest or end
        return end

    async def pause(self, lease: Lease) -> None:
        """Sleep until the next pass is due, or the lease is lost."""
        while not lease.lost:
            remaining = (self.next_pass - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                return
            self.told.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, LEASE_CHECK)):  # not wait_for: see shared/tasks.py
                    await self.told.wait()

    async def _check(self, heartbeat: dict[str, Any], now: datetime, sent: dict[str, int]) -> None:
        body = heartbeat_body(heartbeat, self.settings.rules.heartbeat_max_latency_ms, now)
        failing = bool(heartbeat.get(WATCH_FLAG))
        if body["status"] == "expired":
            if not failing and not await self.queries.flag(heartbeat):
                return  # written since it was read: fresh again, nothing to raise
            # Flagged first: should the publish fail, the heartbeat is still due and the next pass sends it.
            sent[FAIL] += await self._send(heartbeat, FAIL, body["since"])
            await self.queries.reschedule(heartbeat, now + self.resend)
        elif failing:
            # Unflagged after: a repeated OK is a harmless duplicate, a lost one is not.
            sent[OK] += await self._send(heartbeat, OK, body["since"])
            await self.queries.unflag(heartbeat, heartbeat_deadline(heartbeat["receiveTime"], heartbeat["timeout"]))
        else:  # due early (a heartbeat of an earlier version, or one written while it was read): look again then
            await self.queries.reschedule(heartbeat, heartbeat_deadline(heartbeat["receiveTime"], heartbeat["timeout"]))

    async def _send(self, heartbeat: dict[str, Any], event: str, since: int) -> int:
        alert = heartbeat_alert(heartbeat, event, since, self.settings.rules.alert_timeout)
        try:
            payload = load_body(ALERT_SCHEMA, alert)
        except BadInput as exc:  # e.g. an origin too long to be a resource: nothing to raise
            log.warning("no %s for heartbeat %s: %s", event, heartbeat["origin"], exc.message)
            return 0
        await self.rpc.send_alert(payload, alert, user=ORIGIN, wait=False)
        self.metrics.heartbeat_alerts.labels(event).inc()
        return 1

    async def listen(self, channel: AbstractChannel, events: str) -> None:
        """Take the ``heartbeat.due`` events of exchange ``events`` (every replica does: any may hold the lease
        next). An exclusive queue of this connection's own: nothing is kept for a replica that is gone."""
        exchange = await channel.get_exchange(events)
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=f"heartbeat.{DUE_EVENT}")
        await queue.consume(self._on_due, no_ack=True)

    async def _on_due(self, message: AbstractIncomingMessage) -> None:
        try:
            due = datetime.fromisoformat(json.loads(message.body)["heartbeat"]["due"])
        except (ValueError, TypeError, KeyError) as exc:  # a shortcut only: the heartbeat is found all the same
            log.debug("heartbeat.due event ignored: %s: %.200s", type(exc).__name__, exc)
            return
        self.wake(due if due.tzinfo is not None else due.replace(tzinfo=UTC))
