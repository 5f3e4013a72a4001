"""Blackouts (maintenance windows): which alerts a blackout covers, its computed status, and the set of blackouts an
ingest worker holds in memory.

Pure functions over the stored shape of a blackout (written by the gateway, shared/store/blackouts.py; read by the
ingest workers' cache, services/ingest/blackouts.py). Alerta 9.1's rule (its ``is_blackout_period``): a blackout
covers an alert when the alert's ``createTime`` lies in ``[startTime, endTime)``, the environments are equal, and
every other attribute the blackout names holds — ``resource``, ``event``, ``group`` and ``origin`` equal, its
``service`` and ``tags`` each a subset of the alert's (an empty list names nothing). ``customer`` is matched only
with customer views on (CUSTOMER_VIEWS): then a blackout of a customer covers that customer's alerts alone, one
without a customer every customer's (as in Alerta).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PENDING, ACTIVE, EXPIRED = "pending", "active", "expired"
STATUSES = (PENDING, ACTIVE, EXPIRED)
SUPPRESSED = "Suppressed alert during blackout period"  # Alerta's 202 message
BLACKOUT_STATUS = "blackout"  # an alert's status while notification during blackouts is on
SCALARS = ("resource", "event", "group", "origin")


def status(start: datetime, end: datetime, now: datetime) -> str:
    if now < start:
        return PENDING
    return ACTIVE if now < end else EXPIRED


def remaining(start: datetime, end: datetime, now: datetime) -> int:
    """Whole seconds the blackout still has to run (its whole duration while pending; 0 once expired)."""
    return max(int((end - max(start, now)).total_seconds()), 0)


def priority(doc: dict[str, Any]) -> int:
    """Alerta's ``priority`` of a blackout: which kind of attribute it names (0: the environment alone ... 8:
    an origin). Shown only; it orders nothing."""
    resource, event, origin = doc.get("resource"), doc.get("event"), doc.get("origin")
    rank = 1 if origin else 0
    if resource and not event:
        rank = 2
    elif doc.get("service"):
        rank = 3
    elif event and not resource:
        rank = 4
    elif doc.get("group"):
        rank = 5
    elif resource and event:
        rank = 6
    elif doc.get("tags"):
        rank = 7
    return 8 if origin else rank


@dataclass(frozen=True)
class Window:
    """One blackout as the matcher needs it."""

    id: str
    environment: str
    start: datetime
    end: datetime
    resource: str | None = None
    event: str | None = None
    group: str | None = None
    origin: str | None = None
    service: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    customer: str | None = None

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Window:
        return cls(
            id=str(doc["_id"]), environment=doc["environment"], start=doc["startTime"], end=doc["endTime"],
            resource=doc.get("resource"), event=doc.get("event"), group=doc.get("group"), origin=doc.get("origin"),
            service=frozenset(doc.get("service") or ()), tags=frozenset(doc.get("tags") or ()),
            customer=doc.get("customer"),
        )


def covers(window: Window, alert: dict[str, Any], at: datetime, *, customers: bool = False) -> bool:
    """Does the blackout cover ``alert`` (received with ``createTime`` ``at``)? ``customers``: CUSTOMER_VIEWS."""
    if not window.start <= at < window.end or window.environment != alert.get("environment"):
        return False
    if customers and window.customer is not None and window.customer != alert.get("customer"):
        return False
    for name in SCALARS:
        wanted = getattr(window, name)
        if wanted is not None and wanted != alert.get(name):
            return False
    return window.service <= set(alert.get("service") or ()) and window.tags <= set(alert.get("tags") or ())


class Blackouts:
    """The blackouts a worker knows, by environment (an alert is compared only with those of its own)."""

    def __init__(self, windows: Iterable[Window] = ()) -> None:
        self.by_id: dict[str, Window] = {}
        self.by_environment: dict[str, dict[str, Window]] = {}
        for window in windows:
            self.put(window)

    def __len__(self) -> int:
        return len(self.by_id)

    def put(self, window: Window) -> None:
        self.drop(window.id)
        self.by_id[window.id] = window
        self.by_environment.setdefault(window.environment, {})[window.id] = window

    def drop(self, ident: str) -> None:
        old = self.by_id.pop(ident, None)
        if old is not None:
            same = self.by_environment[old.environment]
            del same[ident]
            if not same:
                del self.by_environment[old.environment]

    def find(self, alert: dict[str, Any], at: datetime, *, customers: bool = False) -> Window | None:
        """The first blackout that covers ``alert``, if any."""
        for window in self.by_environment.get(alert.get("environment") or "", {}).values():
            if covers(window, alert, at, customers=customers):
                return window
        return None


SUPPRESS, MARK = "suppress", "mark"


def decide(blackouts: Blackouts, alert: dict[str, Any], at: datetime, *, notification: bool,
           accepted: tuple[str, ...] = (), customers: bool = False) -> tuple[str, Window] | None:
    """What a blackout does to ``alert``: ``SUPPRESS`` it (dropped, answered 202), or, with notification during
    blackouts on, ``MARK`` it (stored with status ``blackout``); None when no blackout covers it. Alerta's
    ``is_blackout``: a severity of ``BLACKOUT_ACCEPT`` is let through, but only while alerts are suppressed."""
    if not notification and alert.get("severity") in accepted:
        return None
    window = blackouts.find(alert, at, customers=customers)
    if window is None:
        return None
    return (MARK if notification else SUPPRESS), window
