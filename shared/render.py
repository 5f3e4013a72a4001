"""Stored documents to API bodies (Alerta's JSON shape). ``href`` is added by whoever knows the base URL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .fieldtypes import isoformat
from .store import INTERNAL_FIELDS

ALERT_DATES = ("createTime", "receiveTime", "lastReceiveTime", "updateTime")


def _iso(value: Any) -> Any:
    return isoformat(value) if isinstance(value, datetime) else value


def alert_body(doc: dict[str, Any], *, history: bool = True) -> dict[str, Any]:
    body = {key: value for key, value in doc.items() if key not in INTERNAL_FIELDS and key != "_id"}
    body["id"] = doc["_id"]
    body.setdefault("customer", None)
    for key in ALERT_DATES:
        if key in body:
            body[key] = _iso(body[key])
    if history:
        body["history"] = [
            {**entry, "updateTime": _iso(entry.get("updateTime")), "href": None}
            for entry in doc.get("history") or []
        ]
    else:
        body.pop("history", None)
    return body


def heartbeat_body(doc: dict[str, Any], max_latency_ms: int, now: datetime | None = None) -> dict[str, Any]:
    """A heartbeat with the server-computed ``status``, ``latency`` (ms) and ``since`` (s), as Alerta 9.1."""
    now = now or datetime.now(UTC)
    receive, create = doc["receiveTime"], doc["createTime"]
    latency = int((receive - create).total_seconds() * 1000)
    since = int((now - receive).total_seconds())
    if since > doc["timeout"]:
        status = "expired"
    elif latency > max_latency_ms:
        status = "slow"
    else:
        status = "ok"
    return {
        "id": doc["_id"],
        "origin": doc["origin"],
        "tags": doc.get("tags") or [],
        "attributes": doc.get("attributes") or {},
        "type": doc.get("type", "Heartbeat"),
        "createTime": _iso(create),
        "timeout": doc["timeout"],
        "maxLatency": max_latency_ms,
        "receiveTime": _iso(receive),
        "customer": doc.get("customer"),
        "latency": latency,
        "since": since,
        "status": status,
    }


def with_href(body: dict[str, Any], base_url: str, kind: str) -> dict[str, Any]:
    body["href"] = f"{base_url}/{kind}/{body['id']}"
    for entry in body.get("history") or []:
        entry["href"] = f"{base_url}/{kind}/{entry['id']}"
    return body


def listed_alert(doc: dict[str, Any], base_url: str, *, history: bool, raw_data: bool) -> dict[str, Any]:
    """An alert of ``GET /alerts``: history only when asked for (``show-history``; otherwise an empty list, as
    Alerta lists it), raw data likewise."""
    body = with_href(alert_body(doc, history=history), base_url, "alert")
    body.setdefault("history", [])
    if not raw_data:
        body["rawData"] = None
    return body


def history_record(doc: dict[str, Any], base_url: str) -> dict[str, Any]:
    """One entry of ``/alerts/history``: the entry's own values over the alert's current context."""
    entry = doc["history"]
    record = {
        "id": doc["_id"],
        "resource": doc.get("resource"),
        "event": entry.get("event"),
        "environment": doc.get("environment"),
        "severity": entry.get("severity"),
        "status": entry.get("status"),
        "service": doc.get("service") or [],
        "group": doc.get("group"),
        "text": entry.get("text"),
        "tags": doc.get("tags") or [],
        "attributes": doc.get("attributes") or {},
        "origin": doc.get("origin"),
        "type": entry.get("type"),
        "updateTime": _iso(entry.get("updateTime")),
        "user": entry.get("user"),
        "timeout": entry.get("timeout"),
        "customer": doc.get("customer"),
        "href": f"{base_url}/alert/{doc['_id']}",
    }
    if entry.get("value"):  # as Alerta's records: a value only when the entry has one
        record["value"] = entry["value"]
    return record


def top10_row(row: dict[str, Any], base_url: str) -> dict[str, Any]:
    for resource in row.get("resources") or []:
        resource["href"] = f"{base_url}/alert/{resource['id']}"
    return row
