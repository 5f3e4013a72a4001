"""Alert documents in their stored shape, built by the same reception rules the ingest worker applies, so that
seeding through the store gives what the pipeline would have stored; and reading lists back through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from shared.rules import create
from shared.schemas import ALERT_SCHEMA, load_body
from shared.severity import severity_code
from shared.store import Store

from .seeding import insert_alerts
from .stack import Stack

BASE_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def stored_alert(
    environment: str,
    resource: str,
    event: str = "NodeDown",
    severity: str = "major",
    *,
    status: str | None = None,
    at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A new alert as the worker stores it; ``status`` and ``at`` (its receive time) may be forced."""
    at = at or BASE_TIME
    body = load_body(ALERT_SCHEMA, {
        "resource": resource, "event": event, "environment": environment, "severity": severity,
        "service": ["Network"], "text": f"{event} on {resource}", "value": "1", **fields,
    })
    body.update(id=str(uuid.uuid4()), user=None, createTime=body["createTime"] or at,
                timeout=body["timeout"] if body["timeout"] is not None else 86400)
    doc = create(body, at, 100)
    if status is not None:
        doc["status"] = status
        doc["history"][-1]["status"] = status
    doc["_v"] = uuid.uuid4().hex
    return doc


def with_history(doc: dict[str, Any], *changes: tuple[str, str, datetime]) -> dict[str, Any]:
    """Append history entries ``(type, severity, at)`` to a stored alert, as correlations would."""
    for kind, severity, at in changes:
        doc["history"].append({
            "id": str(uuid.uuid4()), "event": doc["event"], "severity": severity, "status": doc["status"],
            "value": "2", "text": f"{kind} change", "type": kind, "updateTime": at, "user": None,
            "timeout": 86400,
        })
        if kind == "severity":
            doc.update(severity=severity, severityCode=severity_code(severity))
    return doc


async def seed(store: Store, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert await insert_alerts(store, docs, batch=7) == len(docs)
    return docs


def minutes(n: int) -> datetime:
    return BASE_TIME + timedelta(minutes=n)


def environment() -> str:
    """A private environment: the documents of one test never meet those of another."""
    return f"QT-{uuid.uuid4().hex[:10]}"


async def list_alerts(stack: Stack, *params: tuple[str, str], path: str = "/alerts") -> dict[str, Any]:
    status, body = await stack.request("GET", f"{path}?{urlencode(params)}")
    assert status == 200, body
    return dict(body)


def resources(body: dict[str, Any]) -> list[str]:
    return [item["resource"] for item in body["alerts"]]
