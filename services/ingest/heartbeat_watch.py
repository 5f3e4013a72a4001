"""The heartbeat watch (what ``alerta heartbeats --alert`` does from cron, done by the server): a heartbeat that
expired raises ``HeartbeatFail`` for its origin, and once it is fresh again ``HeartbeatOK`` (normal severity,
correlated with the failure, so it closes it).

The alerts travel like any other (published on the ingest exchange with ``<environment>/<origin>``), so they are
de-duplicated and correlated by the workers: a failure re-sent on every run while the heartbeat stays stale is a
duplicate, and keeps the alert from expiring. The heartbeat remembers that a failure is open (a flag the watch
alone writes), so that ``HeartbeatOK`` is sent only for origins that failed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from shared.broker import RpcClient
from shared.metrics import Metrics
from shared.render import heartbeat_body
from shared.schemas import ALERT_SCHEMA, BadInput, load_body
from shared.settings import Settings
from shared.store.housekeeping import WATCH_FLAG, HousekeepingQueries
from shared.store.leases import Lease

log = logging.getLogger("alertbus.heartbeat-watch")
NAME = "heartbeat-watch"
FAIL, SLOW, OK = "HeartbeatFail", "HeartbeatSlow", "HeartbeatOK"
ORIGIN = "alertbus/heartbeat-watch"


def heartbeat_alert(heartbeat: dict[str, Any], event: str, since: int, alert_timeout: int) -> dict[str, Any]:
    """The alert for a heartbeat, as the ``alerta`` client builds it (environment, service and group may be set
    by the heartbeat's attributes)."""
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
        "timeout": alert_timeout,
    }


class HeartbeatWatch:
    def __init__(self, queries: HousekeepingQueries, rpc: RpcClient, settings: Settings, metrics: Metrics) -> None:
        self.queries, self.rpc, self.settings, self.metrics = queries, rpc, settings, metrics

    async def run(self, lease: Lease | None = None) -> dict[str, int]:
        now = datetime.now(UTC)
        sent = {FAIL: 0, OK: 0}
        for heartbeat in await self.queries.all_heartbeats():
            if lease is not None and lease.lost:
                break
            body = heartbeat_body(heartbeat, self.settings.rules.heartbeat_max_latency_ms, now)
            failing = bool(heartbeat.get(WATCH_FLAG))
            if body["status"] == "expired":
                if not failing:  # flag first: should the publish fail, the next run sends it again
                    await self.queries.set_failing(heartbeat["_id"], True)
                sent[FAIL] += await self._send(heartbeat, FAIL, body["since"])
            elif failing and await self._send(heartbeat, OK, body["since"]):
                sent[OK] += 1  # unflag after: a repeated OK is a harmless duplicate, a lost one is not
                await self.queries.set_failing(heartbeat["_id"], False)
        return sent

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
