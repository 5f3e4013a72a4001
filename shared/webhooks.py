"""What more than one service knows of webhooks: the routes and headers the gateway authenticates and forwards
(the hooks service parses the payloads: services/hooks/payloads.py), and the outbound PagerDuty filter
(``PAGERDUTY_FILTER``, ``field=value|value,...``), parsed by the settings and matched by the notifier. Pure.
"""

from __future__ import annotations

from typing import Any

from .severity import SEVERITIES, STATUSES

SIGNATURE_HEADER = "X-PagerDuty-Signature"
PAGERDUTY_PATHS = ("/pagerduty", "/webhooks/pagerduty")
PROMETHEUS_PATH = "/webhooks/prometheus"
USER_HEADER = "X-Alertbus-User"  # who the gateway authenticated; the gateway never passes a client's own

# -- the outbound PagerDuty filter ----------------------------------------------------------------

FILTER_FIELDS = ("environment", "severity", "status", "resource", "event", "group", "origin", "type",
                 "service", "tags", "customer")
STATE_FIELDS = ("severity", "status")  # decide what triggers; acknowledge/resolve ignore them
FilterClause = tuple[str, tuple[str, ...]]


def parse_filter(text: str) -> tuple[FilterClause, ...]:
    """``environment=Production,severity=critical|major`` -> clauses; ``ValueError`` naming the problem."""
    clauses = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, values = part.partition("=")
        name = name.strip()
        options = tuple(v.strip() for v in values.split("|") if v.strip())
        if not sep or not options:
            raise ValueError(f"{part!r} is not field=value[|value...]")
        if name not in FILTER_FIELDS and not (name.startswith("attributes.") and len(name) > len("attributes.")):
            raise ValueError(f"unknown field {name!r}; use one of {', '.join(FILTER_FIELDS)} or attributes.<name>")
        known = {"severity": SEVERITIES, "status": STATUSES}.get(name)
        if known and (unknown := [v for v in options if v not in known]):
            raise ValueError(f"unknown {name} {', '.join(unknown)} (a typo would never match)")
        clauses.append((name, options))
    return tuple(clauses)


def _field(alert: dict[str, Any], name: str) -> Any:
    if name.startswith("attributes."):
        return (alert.get("attributes") or {}).get(name[len("attributes."):])
    return alert.get(name)


def matches(clauses: tuple[FilterClause, ...], alert: dict[str, Any], *, triggering: bool = True) -> bool:
    """Every clause holds (a list field holds when one element is listed). Without ``triggering`` the
    severity and status clauses are skipped: an alert paged as critical must still be resolved once normal."""
    for name, options in clauses:
        if not triggering and name in STATE_FIELDS:
            continue
        value = _field(alert, name)
        values = value if isinstance(value, list) else [value]
        if not any(str(v) in options for v in values if v is not None):
            return False
    return True
