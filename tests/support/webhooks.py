"""Canonical webhook bodies, shaped after the senders' documented examples: PagerDuty v1 (developer docs,
"v1 Overview" examples; Alerta v3 reference §5.24), PagerDuty v3 (developer docs, "v3 Overview" webhook
payload, with ``incident_key``) and Prometheus Alertmanager (webhook_config, version 4); and posting a body
signed as PagerDuty signs it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp


def pd_v1_message(kind: str, incident_key: str, number: int = 2126, assigned: str | None = "Laura Haley",
                  resolved: str | None = None) -> dict[str, Any]:
    user = ({"id": "P553OPV", "name": assigned, "email": "laura.haley@example.com",
             "html_url": "https://webdemo.pagerduty.com/users/P553OPV"} if assigned else None)
    incident: dict[str, Any] = {
        "id": "PRORDTY", "incident_number": number, "created_on": "2016-02-22T21:02:55Z",
        "status": "triggered", "pending_actions": [],
        "html_url": "https://webdemo.pagerduty.com/incidents/PRORDTY",
        "incident_key": incident_key,
        "service": {"id": "PDS1SN6", "name": "Production XDB Cluster",
                    "html_url": "https://webdemo.pagerduty.com/services/PDS1SN6", "deleted_at": None,
                    "description": "Primary production datastore."},
        "escalation_policy": {"id": "P5ARF12", "name": "Database Team", "deleted_at": None},
        "assigned_to_user": user,
        "trigger_summary_data": {"subject": "CPU Load High on xdb_production_echo"},
        "trigger_type": "web_trigger", "last_status_change_on": "2016-02-22T21:02:55Z",
        "last_status_change_by": None, "number_of_escalations": 0,
        "assigned_to": [{"at": "2016-02-22T21:02:55Z", "object": {**user, "type": "user"}}] if user else [],
        "urgency": "high",
    }
    if resolved:
        incident["resolved_by_user"] = {"id": "PFBSJ2Z", "name": resolved, "email": "wiley@example.com",
                                        "html_url": "https://webdemo.pagerduty.com/users/PFBSJ2Z"}
    return {"type": kind, "data": {"incident": incident}, "id": "a52d3f80-d9a7-11e5-8db3-22000ad5aec9",
            "created_on": "2016-02-22T21:02:55Z"}


def pd_v1(kind: str, incident_key: str, **kwargs: Any) -> dict[str, Any]:
    return {"messages": [pd_v1_message(kind, incident_key, **kwargs)]}


def pd_v3(event_type: str, incident_key: str, number: int = 2, agent: str = "Tenex Engineer",
          assignees: tuple[str, ...] = ("User 123",), event_id: str | None = None,
          occurred_at: str | None = None) -> dict[str, Any]:
    """A new event (its own id, occurred now) unless ``event_id`` and ``occurred_at`` say otherwise."""
    occurred_at = occurred_at or datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"event": {
        "id": event_id or str(uuid.uuid4()), "event_type": event_type, "resource_type": "incident",
        "occurred_at": occurred_at,
        "agent": {"html_url": "https://acme.pagerduty.com/users/PLH1HKV", "id": "PLH1HKV",
                  "self": "https://api.pagerduty.com/users/PLH1HKV", "summary": agent, "type": "user_reference"},
        "client": {"name": "PagerDuty"},
        "data": {
            "id": "PGR0VU2", "type": "incident", "self": "https://api.pagerduty.com/incidents/PGR0VU2",
            "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2", "number": number,
            "status": "triggered", "incident_key": incident_key, "title": "A little bump in the road",
            "service": {"html_url": "https://acme.pagerduty.com/services/PF9KMXH", "id": "PF9KMXH",
                        "summary": "API Service", "type": "service_reference"},
            "assignees": [{"html_url": "https://acme.pagerduty.com/users/PTUXL6G", "id": "PTUXL6G",
                           "summary": name, "type": "user_reference"} for name in assignees],
            "escalation_policy": {"id": "PUS0KTE", "summary": "Default", "type": "escalation_policy_reference"},
            "teams": [], "priority": None, "urgency": "high", "conference_bridge": None,
            "resolve_reason": None,
        },
    }}


def am_alert(status: str = "firing", *, labels: dict[str, str] | None = None,
             annotations: dict[str, str] | None = None, starts: str = "2024-05-01T10:00:00.123456789Z",
             ends: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "InstanceDown", "instance": "web01:9100", "job": "node", "severity": "critical",
                   **(labels or {})},
        "annotations": {"summary": "web01 is down", "description": "web01:9100 has been down for 5 minutes",
                        **(annotations or {})},
        "startsAt": starts, "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
        "fingerprint": "c3b1b1f5a4d1e2f3",
    }


def alertmanager(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4", "groupKey": '{}:{alertname="InstanceDown"}', "truncatedAlerts": 0, "status": status,
        "receiver": "alertbus", "groupLabels": {"alertname": "InstanceDown"},
        "commonLabels": {"alertname": "InstanceDown"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093", "alerts": list(alerts),
    }


async def post_signed(url: str, raw: bytes, signature: str | None) -> tuple[int, Any]:
    """``raw`` posted to ``url`` with no key, signed with ``signature`` (``X-PagerDuty-Signature``) if given."""
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-PagerDuty-Signature"] = signature
    async with aiohttp.ClientSession() as session, session.post(url, data=raw, headers=headers) as resp:
        return resp.status, await resp.json()
