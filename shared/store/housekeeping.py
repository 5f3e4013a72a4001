"""Reads of housekeeping and of the health check (the heartbeat watch's are in heartbeats.py). They only *find*
alerts: every change to an alert is a command applied by the ingest workers, in order with the other messages of
its group.

SecantusDB workaround: one indexed equality on ``status`` per status (not ``$in``, not ``$or``), each followed by
a range on the next field of an index (``housekeeping_expire``, ``housekeeping_delete``, ``by_status_severity``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..severity import STATUSES, severity_code
from .core import Store, time_limited, timed

# What housekeeping needs to route a command and to guard it.
CANDIDATE_FIELDS = {"_id": 1, "environment": 1, "resource": 1, "status": 1, "severity": 1, "lastReceiveTime": 1}
INFORMATIONAL = "informational"
STALE_SHOWN = 100  # expired heartbeats a health check names


def heartbeat_expired(now: datetime) -> dict[str, Any]:
    """``since > timeout`` of ``heartbeat_body`` (``since`` in whole seconds, truncated): with ``receiveTime`` kept
    to the millisecond that is ``receiveTime + (timeout + 1) s <= now``, and ``now`` truncated to the millisecond
    on its way to the store changes nothing."""
    deadline = {"$add": ["$receiveTime", {"$multiply": [{"$add": ["$timeout", 1]}, 1000]}]}
    return {"$lte": [deadline, now]}


class HousekeepingQueries:
    def __init__(self, store: Store) -> None:
        self.alerts = store.alerts
        self.heartbeats = store.heartbeats
        self.metrics = store.metrics

    async def _find(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        return await self.alerts.find(query, CANDIDATE_FIELDS).limit(limit).to_list(None)

    @timed
    async def expiring(self, statuses: tuple[str, ...], now: datetime, limit: int) -> list[dict[str, Any]]:
        """Alerts in one of ``statuses`` whose ``expireTime`` has passed."""
        found: list[dict[str, Any]] = []
        for status in statuses:
            found += await self._find({"status": status, "expireTime": {"$lt": now}}, limit - len(found))
            if len(found) >= limit:
                break
        return found

    @timed
    async def received_before(self, statuses: tuple[str, ...], before: datetime, limit: int) -> list[dict[str, Any]]:
        """Alerts in one of ``statuses`` last received before ``before``."""
        found: list[dict[str, Any]] = []
        for status in statuses:
            found += await self._find({"status": status, "lastReceiveTime": {"$lt": before}}, limit - len(found))
            if len(found) >= limit:
                break
        return found

    @timed
    async def informational_before(self, before: datetime, limit: int) -> list[dict[str, Any]]:
        """Informational alerts (any status) last received before ``before``."""
        code = severity_code(INFORMATIONAL)
        found: list[dict[str, Any]] = []
        for status in STATUSES:
            query = {"status": status, "severityCode": code, "lastReceiveTime": {"$lt": before},
                     "severity": INFORMATIONAL}
            found += await self._find(query, limit - len(found))
            if len(found) >= limit:
                break
        return found

    @timed
    @time_limited
    async def expired_origins(self, now: datetime, limit: int = STALE_SHOWN, max_time_ms: int | None = None
                              ) -> list[str]:
        """The origins of at most ``limit`` expired heartbeats (the rule of ``shared.render.heartbeat_body``), in
        order: decided by the store, which sends back nothing but the origins (``/management/healthcheck``)."""
        query = {"$expr": heartbeat_expired(now)}
        found = self.heartbeats.find(query, {"origin": 1, "_id": 0}, sort=[("origin", 1)], limit=limit,
                                     max_time_ms=max_time_ms)
        return [doc["origin"] async for doc in found]
