"""The read API's query-string language (Alerta v3 ``parse_fields``, with today's paging) → a query spec.

Pure functions: parameters in, a MongoDB filter document, a sort, paging and flags out. Nothing here
touches a database or HTTP. Every field name is checked against a white-list, every value is converted
to the stored type, every regular expression is checked for every engine that evaluates it (RE2 here, the
store's backtracking engine there: see ``regexes.py``); anything else is a ``BadInput`` naming the
parameter (the HTTP layer turns it into a 400).

Forms (see the README): ``field=v`` (repeat = OR), ``field!=v``, ``field=~regex`` (case-insensitive),
dotted ``attributes.x``, ``id`` (prefix of the id or of ``lastReceiveId``), ``from-date``/``to-date``,
``sort-by`` (repeatable, ``-field`` flips), ``reverse``, ``page``/``page-size``/``limit``, ``q`` (a JSON query
document or Alerta's query-string syntax, with ``q.df`` naming the field of its bare terms).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.regexes import literal, safe_regex
from shared.severity import EXPIRED, SEVERITY_MAP, STATUSES
from shared.vocabulary import ALERT_FIELDS, HEARTBEAT_FIELDS, Vocabulary, bad, check_text, field_name, parse_date

from .jsonquery import parse_q

Params = Sequence[tuple[str, str]]

MAX_PAGE_SIZE = 1000
MAX_PAGE = 10**9  # so that the number of documents skipped stays a 64-bit integer the database accepts
IGNORED = frozenset({"_", "callback", "token", "api-key"})
TRUE = frozenset({"true", "t", "1", "yes", "y", "on", ""})
FALSE = frozenset({"false", "f", "0", "no", "n", "off"})
NON_EXPIRED = [status for status in STATUSES if status != EXPIRED]
GROUP_BY = frozenset({
    "event", "resource", "environment", "severity", "status", "service", "group", "origin", "type", "value",
    "customer",
})
ALERT_CONTROLS = frozenset({
    "q", "q.df", "id", "from-date", "to-date", "sort-by", "reverse", "group-by", "limit", "page", "page-size",
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
    base = vocabulary.aliases.get(base, base)
    stored = field_name(base, vocabulary, name)
    for value in values:
        check_text(value, name)
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
    parts = [safe_regex(v[1:], name) if v.startswith("~") else "^" + literal(v) + "$" for v in values]
    return parts[0] if len(parts) == 1 else "|".join(f"(?:{part})" for part in parts)


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
    for value in values:
        check_text(value, "id")
    if all(len(value) >= 36 for value in values):
        return values[0] if len(values) == 1 else {"$in": values}
    alternatives = [literal(v) + ("$" if len(v) >= 36 else "") for v in values]
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
    q = parse_q(last(values, "q"), ALERT_FIELDS, last(values, "q.df")) if "q" in values else {}
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


