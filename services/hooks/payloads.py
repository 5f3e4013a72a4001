"""Inbound webhook payloads turned into alertbus messages. Pure functions.

* PagerDuty v1 (``{"messages": [...]}``, Alerta v3's ``POST /pagerduty``) and v3 (``{"event": {...}}``, with
  the ``X-PagerDuty-Signature`` HMAC) become ``IncidentUpdate``s: a status, a history text and the incident
  number, for the alert whose id is the incident's ``incident_key``.
* Prometheus Alertmanager (webhook version 4) becomes alert bodies, exactly as ``POST /alert`` takes them.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.fieldtypes import isoformat
from shared.schemas import ALERT_SCHEMA, BadInput, describe, load_body
from shared.severity import SEVERITIES

# -- PagerDuty -----------------------------------------------------------------------------------

# v1 ``type`` -> (status, history text), as Alerta v3's /pagerduty (reference §5.24).
V1_TYPES = {
    "incident.trigger": ("open", "Incident {link} assigned to {assigned}"),
    "incident.acknowledge": ("ack", "Incident {link} acknowledged by {assigned}"),
    "incident.unacknowledge": ("open", "Incident {link} unacknowledged due to timeout"),
    "incident.resolve": ("closed", "Incident {link} resolved by {resolved}"),
    "incident.assign": ("assign", "Incident {link} manually assigned to {assigned}"),
    "incident.escalate": ("open", "Incident {link} escalated to {assigned}"),
    "incident.delegate": ("open", "Incident {link} reassigned due to escalation to {assigned}"),
}
# v3 ``event_type`` -> (status, history text). The other v3 types (notes, priorities, responders, pings)
# say nothing about the alert's status: they are acknowledged and ignored.
V3_TYPES = {
    "incident.triggered": ("open", "Incident {link} assigned to {assigned}"),
    "incident.acknowledged": ("ack", "Incident {link} acknowledged by {agent}"),
    "incident.unacknowledged": ("open", "Incident {link} unacknowledged due to timeout"),
    "incident.resolved": ("closed", "Incident {link} resolved by {agent}"),
    "incident.reassigned": ("assign", "Incident {link} manually assigned to {assigned}"),
    "incident.escalated": ("open", "Incident {link} escalated to {assigned}"),
    "incident.delegated": ("open", "Incident {link} reassigned due to escalation to {assigned}"),
    "incident.reopened": ("open", "Incident {link} reopened by {agent}"),
}


@dataclass(frozen=True)
class IncidentUpdate:
    """One PagerDuty incident change, for the alert whose id is ``incident_key``."""

    incident_key: str
    status: str
    text: str
    number: str

    @property
    def tag(self) -> str:
        return f"incident=#{self.number}"


def sign(secret: str, body: bytes) -> str:
    """The ``X-PagerDuty-Signature`` value PagerDuty sends for ``body``."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """True when one of the header's ``v1=`` signatures (several during a secret rotation) matches."""
    expected = sign(secret, body)
    return any(hmac.compare_digest(expected, item.strip()) for item in header.split(","))


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput(f"{path} must be a JSON object", {path: "must be an object"})
    return value


def _string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadInput(f"{path} must be a non-empty string", {path: "must be a non-empty string"})
    return value


def _name(value: Any, key: str = "name") -> str:
    return str(value.get(key) or "n/a") if isinstance(value, dict) else "n/a"


def _link(incident: dict[str, Any], number: str) -> str:
    # PagerDuty's text ends up in an HTML history view: escape it.
    url = html.escape(str(incident.get("html_url") or ""), quote=True)
    return f'<a href="{url}">#{html.escape(number)}</a>'


def _update(incident: dict[str, Any], path: str, number: Any, status: str, text: str,
            names: dict[str, str]) -> IncidentUpdate:
    key = _string(incident.get("incident_key"), f"{path}.incident_key")
    shown = str(number if number is not None else incident.get("id") or "?")
    escaped = {name: html.escape(value) for name, value in names.items()}
    return IncidentUpdate(key, status, text.format(link=_link(incident, shown), **escaped), shown)


def _v1_message(message: Any, path: str) -> IncidentUpdate:
    message = _object(message, path)
    kind = _string(message.get("type"), f"{path}.type")
    data = _object(message.get("data"), f"{path}.data")
    incident = _object(data.get("incident"), f"{path}.data.incident")
    status, template = V1_TYPES.get(kind, ("unknown", html.escape(kind)))
    names = {"assigned": _name(incident.get("assigned_to_user")),
             "resolved": _name(incident.get("resolved_by_user"))}
    return _update(incident, f"{path}.data.incident", incident.get("incident_number"), status, template, names)


def _v3_event(event: Any) -> list[IncidentUpdate]:
    event = _object(event, "event")
    kind = _string(event.get("event_type"), "event.event_type")
    if kind not in V3_TYPES:
        return []
    status, template = V3_TYPES[kind]
    incident = _object(event.get("data"), "event.data")
    assignees = [_name(a, "summary") for a in incident.get("assignees") or [] if isinstance(a, dict)]
    names = {"assigned": ", ".join(assignees) or "n/a", "agent": _name(event.get("agent"), "summary")}
    return [_update(incident, "event.data", incident.get("number"), status, template, names)]


def pagerduty_updates(body: Any) -> list[IncidentUpdate]:
    """The incident changes of a v1 (``messages``) or v3 (``event``) webhook body; ``BadInput`` if malformed.
    An empty list means a v3 event that does not change an alert (a note, a ping)."""
    body = _object(body, "body")
    if "messages" in body:
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise BadInput("messages must be a non-empty list", {"messages": "must be a non-empty list"})
        return [_v1_message(message, f"messages[{n}]") for n, message in enumerate(messages)]
    if "event" in body:
        return _v3_event(body["event"])
    raise BadInput("no messages (v1) or event (v3) in PagerDuty data payload",
                   {"messages": "missing", "event": "missing"})


# -- Prometheus Alertmanager ---------------------------------------------------------------------

SEVERITY_ALIASES = {
    "page": "critical", "pager": "critical", "crit": "critical", "fatal": "critical", "emergency": "critical",
    "emerg": "critical", "alert": "critical", "disaster": "critical",
    "error": "major", "err": "major", "high": "major",
    "medium": "minor", "average": "minor",
    "warn": "warning", "low": "warning",
    "info": "informational", "information": "informational", "notice": "informational",
}
DEFAULT_AM_SEVERITY = "warning"
DEFAULT_AM_ENVIRONMENT = "Production"
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: "not set"


def alert_severity(label: str | None) -> str | None:
    """An Alertmanager ``severity`` label as an alertbus severity; None when the name is unknown."""
    if not label:
        return DEFAULT_AM_SEVERITY
    name = label.strip().lower()
    return name if name in SEVERITIES else SEVERITY_ALIASES.get(name)


def _time(value: Any, path: str) -> datetime | None:
    if value in (None, "", ZERO_TIME):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{path} is not an RFC 3339 time", {path: "not an RFC 3339 time"}) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return None if parsed.year <= 1 else parsed.astimezone(UTC)


def _strings(value: Any, path: str) -> dict[str, str]:
    value = _object(value if value is not None else {}, path)
    if not all(isinstance(v, str) for v in value.values()):
        raise BadInput(f"{path} values must be strings", {path: "values must be strings"})
    return dict(value)


def _attributes(annotations: dict[str, str], alert: dict[str, Any], external_url: Any,
                starts: datetime | None, ends: datetime | None) -> dict[str, Any]:
    # Attribute keys may not hold "." or "$" (they are stored as document keys).
    attributes: dict[str, Any] = {k.replace(".", "_").replace("$", "_"): v for k, v in annotations.items() if k}
    for name, when in (("startsAt", starts), ("endsAt", ends)):
        if when is not None:
            attributes[name] = isoformat(when)
    if external_url:
        attributes["externalUrl"] = str(external_url)
    if alert.get("generatorURL"):
        url = html.escape(str(alert["generatorURL"]), quote=True)
        attributes["moreInfo"] = f'<a href="{url}" target="_blank">Prometheus Graph</a>'
    return attributes


def _labels(labels: dict[str, str], status: str) -> dict[str, Any]:
    """The alert fields labels name; what is left in ``labels`` becomes tags."""
    severity = alert_severity(labels.get("severity"))
    if severity is not None:
        labels.pop("severity", "")  # an unknown name stays visible as a tag
    job = labels.get("job")
    services = [s.strip() for s in labels.pop("service", "").split(",") if s.strip()]
    return {
        "event": labels.pop("alertname", ""),
        # As Alerta: a federated or pushed series keeps its own instance as exported_instance.
        "resource": labels.pop("exported_instance", "") or labels.pop("instance", "") or "n/a",
        # resolved: a normal severity closes the alert through the reception rules
        "severity": "normal" if status == "resolved" else severity or DEFAULT_AM_SEVERITY,
        "environment": labels.pop("environment", "") or DEFAULT_AM_ENVIRONMENT,
        "service": services or [job or "Prometheus"],
        "group": labels.pop("group", "") or "Prometheus",
        "origin": "prometheus/" + (labels.pop("monitor", "") or "alertmanager"),
        "correlate": [c for c in labels.pop("correlate", "").split(",") if c] or None,
    }


def _prometheus_alert(alert: Any, path: str, external_url: Any) -> dict[str, Any]:
    alert = _object(alert, path)
    labels = _strings(alert.get("labels"), f"{path}.labels")
    annotations = _strings(alert.get("annotations"), f"{path}.annotations")
    status = alert.get("status", "firing")
    if status not in ("firing", "resolved"):
        raise BadInput(f"{path}.status must be firing or resolved", {f"{path}.status": "firing or resolved"})
    _string(labels.get("alertname"), f"{path}.labels.alertname")
    starts, ends = _time(alert.get("startsAt"), f"{path}.startsAt"), _time(alert.get("endsAt"), f"{path}.endsAt")
    body = _labels(labels, status)
    fallback = f"{body['severity'].upper()}: {body['resource']} is {body['event']}"
    body.update(
        type="prometheusAlert",
        text=annotations.pop("description", None) or annotations.pop("summary", None) or fallback,
        value=annotations.pop("value", None),
        attributes=_attributes(annotations, alert, external_url, starts, ends),
        tags=[f"{key}={val}" for key, val in sorted(labels.items())],
        rawData=alert,
    )
    when = ends if status == "resolved" else starts
    if when is not None:
        body["createTime"] = isoformat(when)
    return {key: val for key, val in body.items() if val is not None}


def alertmanager_alerts(body: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every alert of an Alertmanager webhook body as ``(wire body, validated alert)``; ``BadInput`` naming
    each invalid alert when any is invalid, so that a batch is accepted or refused as a whole."""
    body = _object(body, "body")
    if str(body.get("version", "4")) != "4":
        raise BadInput(f"unsupported Alertmanager webhook version {body.get('version')!r}; 4 is supported",
                       {"version": "must be 4"})
    alerts = body.get("alerts")
    if not isinstance(alerts, list):  # an empty list is answered 201 with no ids, as Alerta does
        raise BadInput("no alerts in Alertmanager webhook payload", {"alerts": "must be a list"})
    results, errors = [], {}
    for index, item in enumerate(alerts):
        path = f"alerts[{index}]"
        try:
            wire = _prometheus_alert(item, path, body.get("externalURL"))
            results.append((wire, load_body(ALERT_SCHEMA, wire)))
        except BadInput as exc:
            errors[path] = exc.errors if exc.errors is not None else exc.message
    if errors:
        raise BadInput(describe(errors), errors)
    return results
