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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..regexes import user_regex
from ..severity import severity_code

TOP_RESOURCES = 100  # resources listed per top-10 group (and kept per R counter)
SEVERITY, EVENT, DETAIL = "A", "B", "R"
SEVERITY_FIELDS = frozenset({"environment", "status", "severity", "severityCode"})
EVENT_FIELDS = frozenset({"environment", "status"})
Predicate = Callable[[Mapping[str, Any]], bool]
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


# -- the matcher: an alert filter evaluated on a counter's key --------------------------------------------


def key_filter(flt: Mapping[str, Any], fields: frozenset[str]) -> Predicate | None:
    """A predicate over counter keys equivalent to ``flt`` over alerts, or None when ``flt`` involves another
    field or an operator this does not evaluate (the caller then counts by aggregation).

    Covers what ``shared.filters`` produces for these fields — a plain value, ``$eq``, ``$in``, ``$ne``,
    ``$nin``, ``$regex`` with ``$options``, ``$not`` of a regex, ``$exists`` — and ``$and``/``$or`` of such
    filters (``q``). Values must be strings (``severityCode``: integers), as MongoDB compares by type.
    """
    parts: list[Predicate] = []
    for name, condition in flt.items():
        if name in ("$and", "$or"):
            if not isinstance(condition, list) or not condition:
                return None
            subs = [key_filter(sub, fields) if isinstance(sub, Mapping) else None for sub in condition]
            if any(sub is None for sub in subs):
                return None
            parts.append(_all(subs) if name == "$and" else _any(subs))  # type: ignore[arg-type]
            continue
        if name not in fields:
            return None
        test = _condition(name, condition)
        if test is None:
            return None
        parts.append(_on(name, test))
    return _all(parts)


def key_value(key: Mapping[str, Any], name: str) -> Any:
    """A field of a counter key; ``severityCode`` follows from ``severity``."""
    if name == "severityCode":
        return severity_code(key["severity"])
    return key[name]


def _on(name: str, test: Callable[[Any], bool]) -> Predicate:
    return lambda key: test(key_value(key, name))


def _all(parts: Iterable[Predicate]) -> Predicate:
    frozen = list(parts)
    return lambda key: all(part(key) for part in frozen)


def _any(parts: Iterable[Predicate]) -> Predicate:
    frozen = list(parts)
    return lambda key: any(part(key) for part in frozen)


def _plain(name: str, value: Any) -> bool:
    if isinstance(value, bool):  # True == 1 in Python, never in MongoDB
        return False
    return isinstance(value, int) if name == "severityCode" else isinstance(value, str)


def _condition(name: str, condition: Any) -> Callable[[Any], bool] | None:
    if not isinstance(condition, Mapping):
        return (lambda value: value == condition) if _plain(name, condition) else None
    tests: list[Callable[[Any], bool]] = []
    for op, operand in condition.items():
        if op == "$options":
            continue
        test = _operator(name, op, operand, condition.get("$options", ""))
        if test is None:
            return None
        tests.append(test)
    if not tests:
        return None
    return lambda value: all(test(value) for test in tests)


def _operator(name: str, op: str, operand: Any, options: Any) -> Callable[[Any], bool] | None:
    if op == "$eq" and _plain(name, operand):
        return lambda value: value == operand
    if op == "$ne" and _plain(name, operand):
        return lambda value: value != operand
    if op in ("$in", "$nin") and isinstance(operand, list) and all(_plain(name, v) for v in operand):
        members = set(operand)
        return (lambda value: value in members) if op == "$in" else (lambda value: value not in members)
    if op == "$regex":
        return _searching(_regex(operand, options), negate=False)
    if op == "$not" and isinstance(operand, Mapping) and set(operand) <= {"$regex", "$options"} and "$regex" in operand:
        return _searching(_regex(operand["$regex"], operand.get("$options", "")), negate=True)
    if op == "$exists" and isinstance(operand, bool):
        return lambda value: operand  # every key field is set on every alert
    return None


def _searching(pattern: Any, negate: bool) -> Callable[[Any], bool] | None:
    """A regex test as MongoDB applies it to a string field (unanchored; never matches a non-string)."""
    if pattern is None:
        return None
    found = pattern
    return lambda value: (isinstance(value, str) and found.search(value) is not None) != negate


def _regex(pattern: Any, options: Any) -> Any:
    """The user's pattern compiled with RE2: evaluated here, in the query service's event loop, a backtracking
    engine would let one request stall every other; RE2 is linear in the key whatever the pattern. None (count by
    aggregation instead) for what RE2 cannot compile, which the filters refuse before it gets here."""
    return user_regex(pattern, options)


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
