"""The matcher of the materialised counters: an alert filter evaluated on a counter's key instead of on an alert
(see ``counter_keys.py``), so that a read whose filter names only environment, status and severity is answered
from the counters. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..regexes import user_regex
from ..severity import severity_code

Predicate = Callable[[Mapping[str, Any]], bool]


def key_filter(flt: Mapping[str, Any], fields: frozenset[str]) -> Predicate | None:
    """A predicate over counter keys equivalent to ``flt`` over alerts, or None when ``flt`` involves another
    field or an operator this does not evaluate (the caller then counts by aggregation).

    Covers what ``services.query.filters`` produces for these fields — a plain value, ``$eq``, ``$in``, ``$ne``,
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


def pushdown(flt: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a filter the counters' index serves (a plain environment); the matcher checks all of it.

    SecantusDB: a query is served by an index only when all of it is equalities on an index prefix (plus one
    ``$in`` or range), so nothing else is sent."""
    environment = flt.get("environment")
    return {"environment": environment} if isinstance(environment, str) else {}
