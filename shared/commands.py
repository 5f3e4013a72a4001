"""Operator commands on a stored alert (status, action, tag, untag): pure functions over documents.

They run in the ingest worker, in order with the alerts of the same group, exactly like reception.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .limits import bounded_history, bounded_user, merge_tags
from .severity import ACK, SHELVED, action_transition, severity_code

STATUS, ACTION, TAG, UNTAG, DELETE = "status", "action", "tag", "untag", "delete"
DELETE_HEARTBEAT = "delete-heartbeat"
# Notes and attribute updates: applied by shared/notes.py, in the same order and write as the commands above.
NOTE, NOTE_UPDATE, NOTE_DELETE, ATTRIBUTES = "note", "note-update", "note-delete", "attributes"
NOTE_OPERATIONS = (NOTE, NOTE_UPDATE, NOTE_DELETE, ATTRIBUTES)
OPERATIONS = (STATUS, ACTION, TAG, UNTAG, DELETE, DELETE_HEARTBEAT, *NOTE_OPERATIONS)
UNDO = {"unack": "ack", "unshelve": "shelve"}


def history_entry(doc: dict[str, Any], *, kind: str, severity: str, status: str, text: str, at: datetime,
           user: str | None, timeout: int | None, receive_id: str) -> dict[str, Any]:
    return {
        "id": receive_id, "event": doc["event"], "severity": severity, "status": status, "value": doc.get("value"),
        "text": text, "type": kind, "updateTime": at, "user": bounded_user(user), "timeout": timeout,
    }


def with_entry(doc: dict[str, Any], entry: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    return bounded_history([*(doc.get("history") or []), entry], limit)


def status_before(doc: dict[str, Any], action: str) -> str | None:
    """The status to return to when undoing an action: the status before the newest ``ack``/``shelve``
    entry for unack/unshelve, otherwise the status before the newest entry (as Alerta reads its history)."""
    history = doc.get("history") or []
    undo = UNDO.get(action)
    if undo is None:
        return str(history[-2]["status"]) if len(history) >= 2 else None
    for index in range(len(history) - 1, 0, -1):
        if history[index].get("type") == undo or history[index].get("status") == (ACK if undo == "ack" else SHELVED):
            return str(history[index - 1]["status"])
    return "open"  # the entry fell out of the capped history: open is the safe default


def set_status(doc: dict[str, Any], cmd: dict[str, Any], now: datetime, limit: int) -> dict[str, Any]:
    timeout = cmd.get("timeout") or doc.get("timeout")
    entry = history_entry(doc, kind="status", severity=doc["severity"], status=cmd["status"],
                          text=cmd.get("text") or "", at=now, user=cmd.get("user"), timeout=timeout,
                          receive_id=doc["_id"])
    new = {**doc, "status": cmd["status"], "timeout": timeout, "updateTime": now,
           "history": with_entry(doc, entry, limit)}
    # Optional tags land with the status in one write (the PagerDuty webhook's ``incident=#N``).
    return tag(new, cmd) if cmd.get("tags") else new


def take_action(doc: dict[str, Any], cmd: dict[str, Any], now: datetime, limit: int) -> dict[str, Any]:
    """Raises ``severity.InvalidTransition`` when the action is not allowed from the current status."""
    action = cmd["action"]
    severity, status = action_transition(
        action, severity=doc["severity"], previous_severity=doc.get("previousSeverity"),
        current_status=doc["status"], previous_status=status_before(doc, action),
    )
    text = cmd.get("text") or f"{action} operator action"
    timeout = cmd.get("timeout") or doc.get("timeout")
    kind = action if action in ("open", "assign", "ack", "unack", "shelve", "unshelve", "close", "expired",
                                "timeout") else "action"
    entry = history_entry(doc, kind=kind, severity=severity, status=status, text=text, at=now,
                          user=cmd.get("user"), timeout=timeout, receive_id=doc["_id"])
    new = {**doc, "severity": severity, "severityCode": severity_code(severity), "status": status,
           "updateTime": now, "history": with_entry(doc, entry, limit)}
    if severity != doc["severity"]:
        new["previousSeverity"] = doc["severity"]
    return new


def tag(doc: dict[str, Any], cmd: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "tags": merge_tags(doc.get("tags") or [], cmd["tags"])}


def untag(doc: dict[str, Any], cmd: dict[str, Any]) -> dict[str, Any]:
    remove = set(cmd["tags"])
    return {**doc, "tags": [t for t in doc.get("tags") or [] if t not in remove]}


def guard_holds(doc: dict[str, Any], cmd: dict[str, Any]) -> bool:
    """A command's optional guards: ``ifLastReceiveTime`` (the alert received nothing since) and ``ifStatus``
    (its status is one of these). A command whose guard fails is skipped, not applied."""
    since, statuses = cmd.get("ifLastReceiveTime"), cmd.get("ifStatus")
    if since is not None and doc.get("lastReceiveTime") != since:
        return False
    return not statuses or doc.get("status") in statuses


def for_customers(doc: dict[str, Any], cmd: dict[str, Any]) -> bool:
    """May the command act on the alert? Its sender's customers (None: all) hold the alert's customer; else the
    alert is not there for the sender (404)."""
    customers = cmd.get("customers")
    return customers is None or doc.get("customer") in customers


def apply(doc: dict[str, Any], cmd: dict[str, Any], now: datetime, limit: int) -> dict[str, Any]:
    """Apply one of status/action/tag/untag to a document and return the new document."""
    op = cmd["op"]
    if op == STATUS:
        return set_status(doc, cmd, now, limit)
    if op == ACTION:
        return take_action(doc, cmd, now, limit)
    if op == TAG:
        return tag(doc, cmd)
    if op == UNTAG:
        return untag(doc, cmd)
    raise ValueError(f"unknown command {op!r}")
