"""The reception rules: duplicate, correlate or create; trend; status; capped history.

Pure functions over plain documents (dicts in the stored shape). The ingest worker loads the documents of
one ``(environment, resource)`` group, applies received alerts to them in order, and writes the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import re2

from .limits import bounded_history, bounded_user, merge_attributes, merge_tags
from .severity import (
    DEFAULT_PREVIOUS_SEVERITY,
    next_status,
    severity_code,
    trend,
)

CREATED, DUPLICATE, CORRELATED = "created", "duplicate", "correlated"


class Rejected(Exception):
    """A pre-receive policy refused the alert; the message is returned to the sender (403)."""


def operator_regex(pattern: str) -> Any:
    """An operator's pattern (ALLOWED_ENVIRONMENTS, ORIGIN_BLACKLIST), compiled for RE2: it is matched against
    what clients send, so it runs in linear time whatever the pattern (raises ``re2.error`` when RE2 cannot
    express it; settings refuse such a value at start-up)."""
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


@dataclass(frozen=True)
class Policy:
    allowed_environments: tuple[str, ...]
    origin_blacklist: tuple[str, ...] = ()
    require_service: bool = True
    _compiled: tuple[tuple[Any, ...], tuple[Any, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = (tuple(operator_regex(p) for p in self.origin_blacklist),
                    tuple(operator_regex(p) for p in self.allowed_environments))
        object.__setattr__(self, "_compiled", compiled)

    def check(self, alert: dict[str, Any]) -> None:
        """Raise ``Rejected`` with Alerta's reject-plugin message when a rule refuses the alert."""
        origin = alert.get("origin") or ""
        blacklist, environments = self._compiled
        for pattern in blacklist:
            if pattern.match(origin):
                raise Rejected(f"[POLICY] Alert origin '{origin}' has been blacklisted")
        if environments and not any(pattern.fullmatch(alert.get("environment", "")) for pattern in environments):
            raise Rejected(
                "[POLICY] Alert environment does not match one of " + ", ".join(self.allowed_environments)
            )
        if self.require_service and not alert.get("service"):
            raise Rejected("[POLICY] Alert must define a service")


def group_key(environment: str, resource: str) -> tuple[str, str]:
    """The identity of an alert group: every alert of one (environment, resource) lives in one group."""
    return (environment, resource)


def find_target(docs: Iterable[dict[str, Any]], alert: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Which stored alert of the group the received alert belongs to, and how.

    Duplicate: same event and severity. Correlate: same event with another severity (preferred, so that a
    renamed event cannot collide with an existing one), else an alert whose stored ``correlate`` list names
    the received event. Otherwise a new alert.
    """
    docs = list(docs)
    event, severity = alert["event"], alert["severity"]
    for doc in docs:
        if doc["event"] == event and doc["severity"] == severity:
            return DUPLICATE, doc
    for doc in docs:
        if doc["event"] == event:
            return CORRELATED, doc
    for doc in docs:
        if event in (doc.get("correlate") or ()):
            return CORRELATED, doc
    return CREATED, None


def history_entry(alert: dict[str, Any], kind: str, status: str, text: str, at: datetime) -> dict[str, Any]:
    return {
        "id": alert["id"],
        "event": alert["event"],
        "severity": alert["severity"],
        "status": status,
        "value": alert["value"],
        "text": text,
        "type": kind,
        "updateTime": at,
        "user": bounded_user(alert.get("user")),
        "timeout": alert["timeout"],
    }


def _statuses(doc: dict[str, Any]) -> tuple[str, str | None]:
    history = doc.get("history") or []
    previous = history[-2]["status"] if len(history) >= 2 else None
    return doc["status"], previous


def own_correlate(event: str, correlate: list[str]) -> list[str]:
    """A correlate list names the alert's own event too (as Alerta keeps it): appended when missing. An empty
    list stays empty (the alert correlates with nothing)."""
    return [*correlate, event] if correlate and event not in correlate else list(correlate)


def create(alert: dict[str, Any], now: datetime, history_limit: int) -> dict[str, Any]:
    status = next_status(
        severity=alert["severity"], previous_severity=None, incoming_status=alert["status"],
        current_status=None, previous_status=None,
    )
    doc = {key: alert[key] for key in (
        "resource", "event", "environment", "severity", "correlate", "service", "group", "value", "text",
        "tags", "attributes", "origin", "type", "createTime", "timeout", "rawData",
    )}
    doc["customer"] = alert.get("customer")
    doc.update(
        _id=alert["id"],
        correlate=own_correlate(alert["event"], alert["correlate"]),
        status=status,
        severityCode=severity_code(alert["severity"]),
        duplicateCount=0,
        repeat=False,
        previousSeverity=DEFAULT_PREVIOUS_SEVERITY,
        trendIndication=trend(DEFAULT_PREVIOUS_SEVERITY, alert["severity"]),
        receiveTime=now,
        lastReceiveId=alert["id"],
        lastReceiveTime=now,
        updateTime=now,
        history=bounded_history(
            [history_entry(alert, "new", status, alert["text"], alert["createTime"])], history_limit
        ),
    )
    return doc


def deduplicate(doc: dict[str, Any], alert: dict[str, Any], now: datetime, history_limit: int) -> dict[str, Any]:
    current, previous = _statuses(doc)
    status = next_status(
        severity=alert["severity"], previous_severity=None, incoming_status=alert["status"],
        current_status=current, previous_status=previous,
    )
    history = list(doc.get("history") or [])
    last_value = history[-1]["value"] if history else doc.get("value")
    new = dict(doc)
    if status != current:
        history.append(history_entry(alert, "status", status, alert["text"], alert["createTime"]))
        new["updateTime"] = now
    elif alert["value"] != last_value:
        history.append(history_entry(alert, "value", status, alert["text"], alert["createTime"]))
    new.update(
        status=status,
        service=alert["service"],
        value=alert["value"],
        text=alert["text"],
        timeout=alert["timeout"],
        rawData=alert["rawData"],
        repeat=True,
        lastReceiveId=alert["id"],
        lastReceiveTime=now,
        duplicateCount=doc.get("duplicateCount", 0) + 1,
        tags=merge_tags(doc.get("tags") or [], alert["tags"]),
        attributes=merge_attributes(doc.get("attributes") or {}, alert["attributes"]),
        history=bounded_history(history, history_limit),
    )
    return new


def correlate(doc: dict[str, Any], alert: dict[str, Any], now: datetime, history_limit: int) -> dict[str, Any]:
    current, previous = _statuses(doc)
    previous_severity = doc["severity"]
    status = next_status(
        severity=alert["severity"], previous_severity=previous_severity, incoming_status=alert["status"],
        current_status=current, previous_status=previous,
    )
    new = dict(doc)
    if status != current:
        new["updateTime"] = now
    history = list(doc.get("history") or [])
    history.append(history_entry(alert, "severity", status, alert["text"], alert["createTime"]))
    new.update(
        event=alert["event"],
        severity=alert["severity"],
        severityCode=severity_code(alert["severity"]),
        status=status,
        service=alert["service"],
        value=alert["value"],
        text=alert["text"],
        createTime=alert["createTime"],
        timeout=alert["timeout"],
        rawData=alert["rawData"],
        duplicateCount=0,
        repeat=False,
        previousSeverity=previous_severity,
        trendIndication=trend(previous_severity, alert["severity"]),
        receiveTime=now,
        lastReceiveId=alert["id"],
        lastReceiveTime=now,
        tags=merge_tags(doc.get("tags") or [], alert["tags"]),
        attributes=merge_attributes(doc.get("attributes") or {}, alert["attributes"]),
        history=bounded_history(history, history_limit),
    )
    return new


def receive(
    docs: list[dict[str, Any]], alert: dict[str, Any], now: datetime, history_limit: int
) -> tuple[str, dict[str, Any]]:
    """Apply one received alert to its group's documents; returns (outcome, the resulting document). The
    customer is part of an alert's identity (as in Alerta): another customer's alert of the same resource and
    event is another alert."""
    customer = alert.get("customer")
    outcome, target = find_target((doc for doc in docs if doc.get("customer") == customer), alert)
    if target is None:
        return CREATED, create(alert, now, history_limit)
    if outcome == DUPLICATE:
        return DUPLICATE, deduplicate(target, alert, now, history_limit)
    return CORRELATED, correlate(target, alert, now, history_limit)
