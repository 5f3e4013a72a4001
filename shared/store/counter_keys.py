"""The pure part of the materialised counters (``counters.py`` does the I/O): what one alert contributes to
the counters, the counter updates a change of alerts makes, and a matcher that evaluates an alert filter on a
counter's key instead of on an alert.

Three families of counter documents. Coarse where a batch touches many keys, so that it updates a few
documents (SecantusDB: an update costs about 0.4 ms whatever it changes) and a read fetches a few:

* ``A`` — one per environment: ``n.<status>.<severity>`` → alerts. Total, severity and status counts.
* ``B`` — one per ``(environment, status)``: ``e.<event>.n`` (alerts weighted by their number of services, as
  Alerta's top 10 counts them: an alert with k services counts k times, one without a service not at all) and
  ``e.<event>.d`` (their ``duplicateCount`` times the same weight). What ranks a top 10.
* ``R`` — one per ``(environment, status, event)``: ``s.<service>`` → alerts naming it, and ``r``, a sample of
  at most ``TOP_RESOURCES`` ``[alert id, resource]`` pairs: the alerts that most recently *entered* the key (an alert
  leaving the key leaves the sample; the sample is not refilled from older alerts until new ones enter, and a
  write taken back after a race or a crash only removes entries). So a sample never lists an alert that is not
  in its key, but may list fewer than the key holds. Read only for the ten groups a top 10 shows, since the
  samples make these documents large.

Map keys (statuses, severities, events, services) are escaped as field names (``escape_field``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne

from .counter_match import Predicate as Predicate
from .counter_match import key_filter as key_filter
from .counter_match import key_value as key_value

TOP_RESOURCES = 100  # resources listed per top-10 group (and kept per R counter)
SEVERITY, EVENT, DETAIL = "A", "B", "R"
SEVERITY_FIELDS = frozenset({"environment", "status", "severity", "severityCode"})
EVENT_FIELDS = frozenset({"environment", "status"})
FOOTPRINT_FIELDS = {name: 1 for name in (  # the fields an alert's footprint in the counters depends on
    "resource", "environment", "status", "severity", "event", "service", "duplicateCount")}
Entry = tuple[str, str]  # (alert id, resource) in an R counter's sample


def counter_id(kind: str, *key: str) -> str:
    """A counter's ``_id``: its family and key, JSON-encoded so that no two keys can collide."""
    return json.dumps([kind, *key], ensure_ascii=False)


def escape_field(name: str) -> str:
    """A service name as a field name: ``.`` and a leading ``$`` would be paths and operators, NUL is invalid."""
    out = name.replace("%", "%25").replace(".", "%2E").replace("$", "%24").replace("\x00", "%00")
    return out or "%"


def unescape_field(name: str) -> str:
    if name == "%":
        return ""
    return name.replace("%00", "\x00").replace("%24", "$").replace("%2E", ".").replace("%25", "%")


def as_writes(updates: Iterable[tuple[str, dict[str, Any], bool]]) -> list[UpdateOne]:
    """``(counter _id, update, upsert)`` tuples as the store's bulk write takes them."""
    return [UpdateOne({"_id": ident}, update, upsert=upsert) for ident, update, upsert in updates]


@dataclass(frozen=True)
class Footprint:
    """What one stored alert contributes to the counters (also what the journal records of it)."""

    id: str
    resource: str
    environment: str
    status: str
    severity: str
    event: str
    services: tuple[str, ...]
    duplicates: int

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Footprint:
        return cls(str(doc["_id"]), doc.get("resource", ""), doc.get("environment", ""), doc.get("status", ""),
                   doc.get("severity", ""), doc.get("event", ""), tuple(doc.get("service") or ()),
                   int(doc.get("duplicateCount") or 0))

    @property
    def weight(self) -> int:
        return len(self.services)

    def dump(self) -> list[Any]:
        return [self.id, self.resource, self.environment, self.status, self.severity, self.event,
                list(self.services), self.duplicates]

    @classmethod
    def load(cls, raw: list[Any]) -> Footprint:
        ident, resource, environment, status, severity, event, services, duplicates = raw
        return cls(ident, resource, environment, status, severity, event, tuple(services), duplicates)


@dataclass
class _Counter:
    fields: dict[str, Any]  # the key, set when the document is created
    inc: dict[str, int] = field(default_factory=dict)
    push: dict[Entry, None] = field(default_factory=dict)  # ordered set
    pull: dict[Entry, None] = field(default_factory=dict)

    def add(self, name: str, amount: int) -> None:
        total = self.inc.get(name, 0) + amount
        if total:
            self.inc[name] = total
        else:
            self.inc.pop(name, None)

    def sample(self, entry: Entry, sign: int, enter: bool = True) -> None:
        """Enter (+1) or leave (-1) the sample; leaving and entering again within one change cancel out
        (``enter``: False to only cancel, never add). Only the last ``TOP_RESOURCES`` entries are kept
        (``$slice`` would drop the others anyway)."""
        into, against = (self.push, self.pull) if sign > 0 else (self.pull, self.push)
        if entry in against:
            del against[entry]
            return
        if sign > 0 and not enter:
            return
        into[entry] = None
        if sign > 0 and len(into) > TOP_RESOURCES:
            del into[next(iter(into))]


class Changes:
    """The counter updates of a set of alert changes, merged per counter document.

    ``undo``: the updates take back changes that did not land. The samples then only lose entries: an alert
    is never put back into a sample, since by the time a change is taken back the alert may have moved on
    (a redelivery applied it again). A sample may so miss an alert of its key; it never lists one that is not.
    """

    def __init__(self, undo: bool = False) -> None:
        self.counters: dict[str, _Counter] = {}
        self.undo = undo

    def _counter(self, fields: dict[str, str]) -> _Counter:
        ident = counter_id(*fields.values())
        if ident not in self.counters:
            self.counters[ident] = _Counter(fields)
        return self.counters[ident]

    def add(self, fp: Footprint | None, sign: int) -> None:
        """Count (+1) or uncount (-1) one alert."""
        if fp is None:
            return
        environment, status = fp.environment, escape_field(fp.status)
        severities = self._counter({"kind": SEVERITY, "environment": fp.environment})
        severities.add(f"n.{status}.{escape_field(fp.severity)}", sign)
        if not fp.weight:
            return
        event = escape_field(fp.event)
        events = self._counter({"kind": EVENT, "environment": environment, "status": fp.status})
        events.add(f"e.{event}.n", sign * fp.weight)
        events.add(f"e.{event}.d", sign * fp.weight * fp.duplicates)
        detail = self._counter({"kind": DETAIL, "environment": environment, "status": fp.status, "event": fp.event})
        for service in fp.services:
            detail.add("s." + escape_field(service), sign)
        detail.sample((fp.id, fp.resource), sign, enter=not self.undo)

    def change(self, before: Footprint | None, after: Footprint | None) -> Changes:
        self.add(before, -1)
        self.add(after, +1)
        return self

    def empty(self) -> bool:
        return not any(c.inc or c.push or c.pull for c in self.counters.values())

    def writes(self) -> list[UpdateOne]:
        """The updates as the store's bulk write takes them."""
        return as_writes(self.updates())

    def updates(self) -> list[tuple[str, dict[str, Any], bool]]:
        """``(counter _id, update document, upsert)`` per update; a sample's leavers in their own update (a
        ``$push`` and a ``$pull`` of one array cannot share one)."""
        out: list[tuple[str, dict[str, Any], bool]] = []
        for ident, counter in self.counters.items():
            update: dict[str, Any] = {}
            if counter.inc:
                update["$inc"] = dict(counter.inc)
            if counter.push:
                update["$push"] = {"r": {"$each": [list(e) for e in counter.push], "$slice": -TOP_RESOURCES}}
            if update:
                update["$setOnInsert"] = counter.fields
                out.append((ident, update, True))
            if counter.pull:
                out.append((ident, {"$pull": {"r": {"$in": [list(e) for e in counter.pull]}}}, False))
        return out


# -- reading the coarse counters back as keys ------------------------------------------------------------------


def severity_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An ``A`` counter as ``{environment, status, severity, n}`` rows (the keys the matcher takes)."""
    return [{"environment": doc["environment"], "status": unescape_field(status), "severity": unescape_field(sev),
             "n": n}
            for status, severities in (doc.get("n") or {}).items() for sev, n in severities.items()]


def event_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A ``B`` counter as ``{environment, status, event, n, d}`` rows."""
    return [{"environment": doc["environment"], "status": doc["status"], "event": unescape_field(event),
             "n": values.get("n", 0), "d": values.get("d", 0)}
            for event, values in (doc.get("e") or {}).items()]


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, int]:
    """The non-zero numbers of a counter document by dotted path (the paths its updates ``$inc``)."""
    out: dict[str, int] = {}
    for name, item in value.items():
        path = f"{prefix}{name}"
        if isinstance(item, Mapping):
            out.update(flatten(item, path + "."))
        elif isinstance(item, int) and not isinstance(item, bool) and item:
            out[path] = item
    return out


# -- the journal: what a batch is about to add to the counters, until its alert write has landed ---------------


@dataclass(frozen=True)
class JournalEntry:
    """One alert write of a batch: its receive ids (``marked``: those of redelivered messages, for which the
    batch bumped a redelivery marker), and the alert before and after (None: created / deleted)."""

    alert_id: str
    rids: tuple[str, ...]
    marked: tuple[str, ...]
    before: Footprint | None
    after: Footprint | None

    def dump(self) -> dict[str, Any]:
        return {"id": self.alert_id, "rids": list(self.rids), "marked": list(self.marked),
                "before": self.before.dump() if self.before else None,
                "after": self.after.dump() if self.after else None}

    @classmethod
    def load(cls, raw: Mapping[str, Any]) -> JournalEntry:
        before, after = raw.get("before"), raw.get("after")
        return cls(raw["id"], tuple(raw.get("rids") or ()), tuple(raw.get("marked") or ()),
                   Footprint.load(before) if before else None, Footprint.load(after) if after else None)


def entry_changes(entries: Iterable[JournalEntry], undo: bool = False) -> Changes:
    """The counter updates of the entries' writes (``undo``: of taking them back)."""
    changes = Changes(undo)
    for entry in entries:
        if undo:
            changes.change(entry.after, entry.before)
        else:
            changes.change(entry.before, entry.after)
    return changes


def landed(entry: JournalEntry, doc: Mapping[str, Any] | None, markers: Mapping[str, int]) -> bool | None:
    """Whether a journalled write reached the alerts (None: cannot tell yet).

    ``doc`` is the alert now (None: gone), ``markers`` the redelivery markers of the entry's receive ids. A
    receive id in ``_rids`` alone does not prove it: a write that never landed is re-applied from the
    redelivered message, which puts the same receive id there — and bumps the marker, which is what tells it.
    """
    for rid in entry.rids:
        if markers.get(rid, 0) - (1 if rid in entry.marked else 0) > 0:
            return False  # a later attempt applied the message again: this one did not land
    if doc is not None:
        return entry.after is not None and bool(entry.rids) and entry.rids[-1] in doc.get("_rids", ())
    if entry.after is None or entry.before is not None:
        # Deleted, as this write did — or deleted later, by a message queued behind this one's redelivery.
        return True
    return None  # created here and gone now: deleted since, or never created and not redelivered yet
