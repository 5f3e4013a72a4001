"""PagerDuty Events API v2: which event an alert change sends, and its body. Pure functions.

``dedup_key`` is the alert id, so PagerDuty's incident carries ``incident_key`` = alert id and its webhooks
(``POST /webhooks/pagerduty``) find the alert again.
"""

from __future__ import annotations

from typing import Any

from shared.severity import is_normal

TRIGGER, ACKNOWLEDGE, RESOLVE = "trigger", "acknowledge", "resolve"
MAX_SUMMARY = 1024  # PagerDuty's limit
MAX_DELAY_MS = 15 * 60 * 1000

# PagerDuty knows four severities.
PD_SEVERITY = {"security": "critical", "critical": "critical", "major": "error", "minor": "warning",
               "warning": "warning"}
STATUS_ACTIONS = {"open": TRIGGER, "assign": TRIGGER, "ack": ACKNOWLEDGE, "shelved": ACKNOWLEDGE,
                  "closed": RESOLVE, "expired": RESOLVE}  # blackout and unknown send nothing


def event_action(kind: str, alert: dict[str, Any]) -> str | None:
    """The Events API action for an alert event (``created``, ``severity``, ``status``, ``deleted``), or None."""
    if kind == "deleted":
        return RESOLVE
    action = RESOLVE if is_normal(str(alert.get("severity"))) else STATUS_ACTIONS.get(str(alert.get("status")))
    if kind == "created" and action != TRIGGER:
        return None  # an alert born closed or acked was never paged: nothing to tell PagerDuty
    return action


def _summary(alert: dict[str, Any]) -> str:
    head = f"[{alert.get('environment')}] {alert.get('severity')}: {alert.get('event')} on {alert.get('resource')}"
    text = alert.get("text")
    return (f"{head} - {text}" if text else head)[:MAX_SUMMARY]


def event_body(routing_key: str, action: str, alert: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": alert["id"]}
    if action != TRIGGER:
        return body
    details = {key: alert.get(key) for key in ("environment", "service", "group", "value", "text", "status",
                                               "tags", "attributes", "origin", "duplicateCount")}
    body["payload"] = {
        "summary": _summary(alert),
        "source": str(alert.get("resource")),
        "severity": PD_SEVERITY.get(str(alert.get("severity")), "info"),
        "timestamp": alert.get("lastReceiveTime") or alert.get("createTime"),
        "class": alert.get("event"),
        "group": alert.get("group"),
        "custom_details": details,
    }
    body["client"] = "alertbus"
    return body


def retry_delay_ms(base_ms: int, attempt: int) -> int:
    """Back-off before attempt ``attempt + 1``: base, 2x, 4x ... capped at 15 minutes."""
    return int(min(base_ms * 2 ** max(attempt - 1, 0), MAX_DELAY_MS))


def is_retryable(status: int) -> bool:
    """429 (PagerDuty's rate limit) and server errors are worth another try; other 4xx never succeed."""
    return status == 429 or status >= 500
