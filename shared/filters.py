"""The read API's query-string language (Alerta v3 ``parse_fields``, with today's paging) → a query spec.

Pure functions: parameters in, a MongoDB filter document, a sort, paging and flags out. Nothing here
touches a database or HTTP. Every field name is checked against a white-list, every value is converted
to the stored type, every regular expression is length-limited and compiled before use; anything else is
a ``BadInput`` naming the parameter (the HTTP layer turns it into a 400).

Forms (see the README): ``field=v`` (repeat = OR), ``field!=v``, ``field=~regex`` (case-insensitive),
dotted ``attributes.x``, ``id`` (prefix of the id or of ``lastReceiveId``), ``from-date``/``to-date``,
``sort-by`` (repeatable, ``-field`` flips), ``reverse``, ``page``/``page-size``/``limit``, ``q`` (JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .schemas import BadInput
from .severity import EXPIRED, SEVERITY_MAP, STATUSES

Params = Sequence[tuple[str, str]]

MAX_REGEX = 256
MAX_PAGE_SIZE = 1000
MAX_PAGE = 10**9  # so that the number of documents skipped stays a 64-bit integer the database accepts
MAX_Q_DEPTH = 8
IGNORED = frozenset({"_", "callback", "token", "api-key"})
TRUE = frozenset({"true", "t", "1", "yes", "y", "on", ""})
FALSE = frozenset({"false", "f", "0", "no", "n", "off"})
# A quantified group that itself contains a quantifier, e.g. ``(a+)+``: the classic catastrophic
# backtracking shape. MongoDB runs regexes without a time limit, so such patterns are refused up front.
NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,)")
NON_EXPIRED = [status for status in STATUSES if status != EXPIRED]
Q_LOGICAL = frozenset({"$and", "$or"})
Q_OPERATORS = frozenset({"$in", "$nin", "$ne", "$regex", "$options", "$exists", "$gt", "$gte", "$lt", "$lte"})


@dataclass(frozen=True)
class Vocabulary:
    """The fields one resource may be filtered and sorted by, with their stored types."""

    strings: frozenset[str]
    ints: frozenset[str] = frozenset()
    bools: frozenset[str] = frozenset()
    dates: frozenset[str] = frozenset()
    sortable: frozenset[str] = frozenset()
    attributes: bool = True
    default_sort: tuple[tuple[str, int], ...] = ()
    tiebreak: str | None = None
    storage_names: dict[str, str] = field(default_factory=dict)  # API name → stored name


ALERT_FIELDS = Vocabulary(
    strings=frozenset({
        "resource", "event", "environment", "severity", "correlate", "status", "service", "group", "value",
        "text", "tags", "origin", "type", "customer", "previousSeverity", "trendIndication", "lastReceiveId",
    }),
    ints=frozenset({"duplicateCount", "timeout"}),
    bools=frozenset({"repeat"}),
    dates=frozenset({"createTime", "receiveTime", "lastReceiveTime", "updateTime"}),
    sortable=frozenset({
        "id", "resource", "event", "environment", "severity", "status", "service", "group", "value", "text",
        "tags", "origin", "type", "customer", "previousSeverity", "trendIndication", "duplicateCount",
        "timeout", "repeat", "createTime", "receiveTime", "lastReceiveTime", "updateTime",
    }),
    default_sort=(("lastReceiveTime", -1),),
    tiebreak="lastReceiveTime",
    # Severity sorts by its stored order (most severe first), never alphabetically.
    storage_names={"id": "_id", "severity": "severityCode"},
)
HEARTBEAT_FIELDS = Vocabulary(
    strings=frozenset({"origin", "tags", "type", "customer"}),
    ints=frozenset({"timeout"}),
    dates=frozenset({"createTime", "receiveTime"}),
    sortable=frozenset({"id", "origin", "type", "timeout", "createTime", "receiveTime"}),
    default_sort=(("receiveTime", -1),),
    storage_names={"id": "_id"},
)
GROUP_BY = frozenset({
    "event", "resource", "environment", "severity", "status", "service", "group", "origin", "type", "value",
    "customer",
})
ALERT_CONTROLS = frozenset({
    "q", "id", "from-date", "to-date", "sort-by", "reverse", "group-by", "limit", "page", "page-size",
    "show-history", "show-raw-data",
})
HEARTBEAT_CONTROLS = frozenset({"id", "status", "sort-by", "reverse", "limit", "page", "page-size"})
HEARTBEAT_STATUSES = ("ok", "slow", "expired")


@dataclass(frozen=True)
class Query:
    """What one read request asks for. ``filter`` is a MongoDB filter over stored documents."""

    filter: dict[str, Any]
    sort: list[tuple[str, int]]
    page: int = 1
    page_size: int = 50
    show_history: bool = False
    show_raw_data: bool = False
    group_by: str = "event"
    status_filtered: bool = False
    statuses: tuple[str, ...] = ()  # heartbeats: the computed statuses asked for

    @property
    def skip(self) -> int:
        return (self.page - 1) * self.page_size

    def visible(self) -> dict[str, Any]:
        """``GET /alerts`` hides expired alerts unless the request filters by status (Alerta's rule).

        Written as ``$in`` over every other status rather than ``$ne: expired``: an inequality cannot
        bound an index scan (on MongoDB nor on SecantusDB, whose planner then falls back to a
        collection scan), a list of equalities can.
        """
        if self.status_filtered:
            return self.filter
        return combine(self.filter, {"status": {"$in": NON_EXPIRED}})


def bad(param: str, message: str) -> BadInput:
    return BadInput(message, {param: message})


def combine(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    """Both filters must hold. Flat when their keys differ, so that index planners see plain fields."""
    if not right:
        return left
    if not left:
        return right
    if left.keys().isdisjoint(right):
        return {**left, **right}
    return {"$and": [left, right]}


def grouped(params: Params) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in params:
        if name not in IGNORED:
            out.setdefault(name, []).append(value)
    return out


def last(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[-1] if found else None


def boolean(values: dict[str, list[str]], name: str, default: bool = False) -> bool:
    raw = last(values, name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise bad(name, f"{name} must be true or false, got {raw!r}")


def integer(raw: str, name: str, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad(name, f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise bad(name, f"{name} must be {bound}, got {value}")
    return value


def parse_date(raw: str, name: str) -> datetime:
    """ISO 8601 (Alerta sends ``2024-01-31T12:00:00.000Z``); a date without a zone is UTC."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise bad(name, f"{name} must be an ISO 8601 date-time such as 2024-01-31T12:00:00.000Z, "
                        f"got {raw!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def safe_regex(pattern: str, name: str) -> str:
    """Refuse patterns that are too long, invalid, or shaped for catastrophic backtracking."""
    if len(pattern) > MAX_REGEX:
        raise bad(name, f"{name}: a regular expression may be at most {MAX_REGEX} characters")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise bad(name, f"{name}: invalid regular expression {pattern!r}: {exc}") from None
    if NESTED_QUANTIFIER.search(pattern):
        raise bad(name, f"{name}: regular expression {pattern!r} nests quantifiers (e.g. (a+)+), "
                        "which can take exponential time")
    return pattern


def paging(values: dict[str, list[str]], default_page_size: int) -> tuple[int, int]:
    """``page``/``page-size`` (today's Alerta); v3's ``limit`` is the page size when no ``page-size``."""
    page = integer(values["page"][-1], "page", 1, MAX_PAGE) if "page" in values else 1
    if "page-size" in values:
        return page, integer(values["page-size"][-1], "page-size", 1, MAX_PAGE_SIZE)
    if "limit" in values:
        limit = integer(values["limit"][-1], "limit", 0)
        # v3: limit=0 means "no limit"; alertbus never returns more than one maximal page.
        return page, min(limit, MAX_PAGE_SIZE) if limit else MAX_PAGE_SIZE
    return page, default_page_size


def sort_spec(values: dict[str, list[str]], vocabulary: Vocabulary) -> list[tuple[str, int]]:
    """``sort-by`` (repeatable, ``-field`` flips) and ``reverse`` → ``[(stored field, direction)]``.

    Dates sort newest first by default, everything else ascending (severity: most severe first).
    """
    flip = -1 if "reverse" in values and boolean(values, "reverse", True) else 1
    keys: list[tuple[str, int]] = []
    for raw in values.get("sort-by", []):
        name, direction = (raw[1:], -1) if raw.startswith("-") else (raw, 1)
        if name not in vocabulary.sortable:
            raise bad("sort-by", f"sort-by: cannot sort by {name!r}; use one of "
                                 f"{', '.join(sorted(vocabulary.sortable))}")
        direction *= -1 if name in vocabulary.dates else 1
        keys.append((vocabulary.storage_names.get(name, name), direction))
    if not keys:
        keys = list(vocabulary.default_sort)
    # A stable order for paging: ties are broken by recency, which the indexes already hold.
    if vocabulary.tiebreak and all(key != vocabulary.tiebreak for key, _ in keys):
        keys.append((vocabulary.tiebreak, -1))
    unique = dict.fromkeys(key for key, _ in keys)
    chosen = {key: direction for key, direction in reversed(keys)}
    return [(key, chosen[key] * flip) for key in unique]


def field_condition(name: str, values: list[str], vocabulary: Vocabulary) -> tuple[str, Any]:
    """One ``field=...`` / ``field!=...`` parameter (all its repeats) → ``(stored field, condition)``."""
    negate = name.endswith("!")
    base = name[:-1] if negate else name
    stored = field_name(base, vocabulary, name)
    if base in vocabulary.ints or base in vocabulary.bools:
        typed = [typed_value(base, value, vocabulary, name) for value in values]
        return stored, negated(typed, negate)
    if any(value.startswith("~") for value in values):
        pattern = alternation(values, name)
        regex = {"$regex": pattern, "$options": "i"}
        return stored, {"$not": regex} if negate else regex
    for value in values:
        check_enum(base, value, name)
    return stored, negated(list(values), negate)


def negated(values: list[Any], negate: bool) -> Any:
    if len(values) == 1:
        return {"$ne": values[0]} if negate else values[0]
    return {"$nin" if negate else "$in": values}


def alternation(values: list[str], name: str) -> str:
    """Regex values (``~x``) and plain values (exact, escaped) of one field as one pattern."""
    parts = [safe_regex(v[1:], name) if v.startswith("~") else "^" + re.escape(v) + "$" for v in values]
    return parts[0] if len(parts) == 1 else "|".join(f"(?:{part})" for part in parts)


def field_name(base: str, vocabulary: Vocabulary, param: str) -> str:
    if base.startswith("attributes.") and vocabulary.attributes:
        path = base.split(".")
        if any(not part or part.startswith("$") for part in path[1:]):
            raise bad(param, f"{param}: invalid attribute path {base!r}")
        return base
    if base in vocabulary.dates:
        raise bad(param, f"{param}: dates cannot be filtered by value; use from-date and to-date")
    if base in vocabulary.strings or base in vocabulary.ints or base in vocabulary.bools:
        return base
    raise bad(param, f"unknown filter field {param!r}")


def typed_value(base: str, raw: str, vocabulary: Vocabulary, param: str) -> Any:
    if base in vocabulary.ints:
        return integer(raw, param, -(2**63), 2**63 - 1)
    lowered = raw.strip().lower()
    if lowered in TRUE - {""} or lowered in FALSE:
        return lowered in TRUE
    raise bad(param, f"{param} must be true or false, got {raw!r}")


def check_enum(base: str, value: str, param: str) -> None:
    """A severity or status that cannot exist is a mistake, not a filter that matches nothing."""
    if base in ("severity", "previousSeverity") and value not in SEVERITY_MAP:
        raise bad(param, f"{param}: unknown severity {value!r}")
    if base == "status" and value not in STATUSES:
        raise bad(param, f"{param}: unknown status {value!r}")


def id_match(values: list[str]) -> Any:
    """Alerta's id lookup: a whole id exactly, anything shorter as a prefix (escaped, anchored)."""
    if all(len(value) >= 36 for value in values):
        return values[0] if len(values) == 1 else {"$in": values}
    alternatives = [re.escape(v) + ("$" if len(v) >= 36 else "") for v in values]
    return {"$regex": "^" + (alternatives[0] if len(values) == 1 else f"(?:{'|'.join(alternatives)})")}


def date_range(values: dict[str, list[str]], stored: str) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    if "from-date" in values:
        bounds["$gt"] = parse_date(values["from-date"][-1], "from-date")
    if "to-date" in values:
        bounds["$lte"] = parse_date(values["to-date"][-1], "to-date")
    return {stored: bounds} if bounds else {}


def field_filters(values: dict[str, list[str]], controls: Iterable[str], vocabulary: Vocabulary) -> dict[str, Any]:
    """Every non-control parameter is a field filter; two conditions on one field must both hold."""
    skip = frozenset(controls)
    result: dict[str, Any] = {}
    for name, given in values.items():
        if name in skip:
            continue
        stored, condition = field_condition(name, given, vocabulary)
        result = combine(result, {stored: condition})
    return result


def parse_alert_query(params: Params, default_page_size: int = 50) -> Query:
    """The query of ``GET /alerts`` and of every aggregate over alerts (count, top 10, history …)."""
    values = grouped(params)
    flt = field_filters(values, ALERT_CONTROLS, ALERT_FIELDS)
    flt = combine(flt, date_range(values, "lastReceiveTime"))
    if "id" in values:
        # The alert's id or the id of the last alert received for it, matched on the lookup keys (both ids
        # and their short forms, one multikey index: see shared/store/core.py lookup_keys).
        flt = combine(flt, {"_keys": id_match(values["id"])})
    q = parse_q(last(values, "q"), ALERT_FIELDS) if "q" in values else {}
    group_by = last(values, "group-by") or "event"
    if group_by not in GROUP_BY:
        raise bad("group-by", f"group-by: cannot group by {group_by!r}; use one of {', '.join(sorted(GROUP_BY))}")
    page, page_size = paging(values, default_page_size)
    return Query(
        filter=combine(flt, q),
        sort=sort_spec(values, ALERT_FIELDS),
        page=page,
        page_size=page_size,
        show_history=boolean(values, "show-history"),
        show_raw_data=boolean(values, "show-raw-data"),
        group_by=group_by,
        status_filtered="status" in values or "status!" in values or "status" in q,
    )


def parse_heartbeat_query(params: Params, default_page_size: int = 50) -> Query:
    """``GET /heartbeats``: field filters, ``status`` (computed at read time: ok, slow, expired), paging."""
    values = grouped(params)
    flt = field_filters(values, HEARTBEAT_CONTROLS, HEARTBEAT_FIELDS)
    if "id" in values:
        flt = combine(flt, {"_id": id_match(values["id"])})
    statuses = tuple(values.get("status", ()))
    for status in statuses:
        if status not in HEARTBEAT_STATUSES:
            raise bad("status", f"status: unknown heartbeat status {status!r}; use ok, slow or expired")
    page, page_size = paging(values, default_page_size)
    return Query(filter=flt, sort=sort_spec(values, HEARTBEAT_FIELDS), page=page, page_size=page_size,
                 statuses=statuses)


def as_json(raw: str, param: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad(param, f"{param} must be a JSON query document: {exc}") from None


def parse_q(raw: str | None, vocabulary: Vocabulary) -> dict[str, Any]:
    """``q``: a JSON MongoDB query restricted to white-listed fields and to the operators
    ``$and $or $in $nin $ne $regex $exists $gt $gte $lt $lte`` (v3 passed it through unchecked)."""
    if not raw:
        return {}
    return q_node(as_json(raw, "q"), vocabulary, 0)


def q_node(node: Any, vocabulary: Vocabulary, depth: int) -> dict[str, Any]:
    if depth > MAX_Q_DEPTH:
        raise bad("q", f"q is nested more than {MAX_Q_DEPTH} levels deep")
    if not isinstance(node, dict):
        raise bad("q", "q: a query must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in Q_LOGICAL:
            if not isinstance(value, list) or not value:
                raise bad("q", f"q: {key} needs a non-empty list of queries")
            out[key] = [q_node(item, vocabulary, depth + 1) for item in value]
        elif key.startswith("$"):
            allowed = " ".join(sorted(Q_LOGICAL | Q_OPERATORS - {"$options"}))
            raise bad("q", f"q: operator {key} is not allowed; use {allowed}")
        else:
            out[q_field(key, vocabulary)] = q_condition(key, value, vocabulary)
    return out


def q_field(key: str, vocabulary: Vocabulary) -> str:
    if key in ("id", "_id"):
        return "_id"
    if key.startswith("attributes."):
        return field_name(key, vocabulary, "q")
    known = vocabulary.strings | vocabulary.ints | vocabulary.bools | vocabulary.dates
    if key not in known:
        raise bad("q", f"q: unknown field {key!r}")
    return key


def q_condition(key: str, value: Any, vocabulary: Vocabulary) -> Any:
    if not isinstance(value, dict):
        return q_scalar(key, value, vocabulary)
    if not value:
        raise bad("q", f"q: empty condition for {key!r}")
    for op in value:
        if op not in Q_OPERATORS:
            raise bad("q", f"q: operator {op} is not allowed on {key!r}")
    if "$options" in value and "$regex" not in value:
        raise bad("q", f"q: $options without $regex on {key!r}")
    return {op: q_operand(key, op, operand, vocabulary) for op, operand in value.items()}


def q_operand(key: str, op: str, operand: Any, vocabulary: Vocabulary) -> Any:
    if op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise bad("q", f"q: {op} on {key!r} needs a list")
        return [q_scalar(key, item, vocabulary) for item in operand]
    if op == "$exists":
        if not isinstance(operand, bool):
            raise bad("q", f"q: $exists on {key!r} needs true or false")
        return operand
    if op in ("$regex", "$options"):
        if not isinstance(operand, str):
            raise bad("q", f"q: {op} on {key!r} needs a string")
        if op == "$options" and not set(operand) <= set("imsx"):
            raise bad("q", f"q: $options may only hold the flags i, m, s and x, got {operand!r}")
        return safe_regex(operand, "q") if op == "$regex" else operand
    return q_scalar(key, operand, vocabulary)


def q_scalar(key: str, value: Any, vocabulary: Vocabulary) -> Any:
    """Plain JSON values only (no embedded documents); dates are written as ISO strings."""
    if isinstance(value, str):
        return parse_date(value, "q") if key in vocabulary.dates else value
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise bad("q", f"q: {key!r} is compared with an integer outside the 64-bit range")
        return value
    raise bad("q", f"q: {key!r} must be compared with a string, number, boolean or null")
