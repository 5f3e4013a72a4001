"""``q``: a JSON MongoDB query document (Alerta v3's base query) or, when it does not start with ``{``, Alerta's
query-string syntax (``querystring.py``, translated into the same restricted form). The JSON form is restricted
to white-listed fields and to the operators ``$and $or $in $nin $ne $regex $exists $gt $gte $lt $lte`` (v3 passed
it through unchecked). Pure.

A ``$regex`` passes the checks of ``regexes.safe_regex``; its ``$options`` may only be ``i``: ``x`` would let
comments and spaces hide a pattern's shape from those checks, and the other flags can be written inline (``(?s)``)."""

from __future__ import annotations

import json
from typing import Any

from shared.regexes import safe_regex
from shared.vocabulary import Vocabulary, bad, check_text, field_name, parse_date, shown

from .querystring import parse_query_string

MAX_Q_DEPTH = 8
Q_LOGICAL = frozenset({"$and", "$or"})
Q_OPERATORS = frozenset({"$in", "$nin", "$ne", "$regex", "$options", "$exists", "$gt", "$gte", "$lt", "$lte"})
REGEX_OPTIONS = frozenset({"", "i"})


def as_json(raw: str, param: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad(param, f"{param} must be a JSON query document: {exc}") from None
    except RecursionError:  # nesting deeper than the decoder recurses; MAX_Q_DEPTH would refuse it anyway
        raise bad(param, f"{param} is nested more than {MAX_Q_DEPTH} levels deep") from None


def parse_q(raw: str | None, vocabulary: Vocabulary, default_field: str | None = None) -> dict[str, Any]:
    """``q``: a JSON MongoDB query restricted to white-listed fields and to the operators
    ``$and $or $in $nin $ne $regex $exists $gt $gte $lt $lte`` (v3 passed it through unchecked) when its first
    character but spaces is ``{``; else a query string (Alerta 6.3 and later), whose bare terms search
    ``default_field`` (``q.df``; Alerta's default: ``text``)."""
    if not raw:
        return {}
    if not raw.lstrip().startswith("{"):
        return parse_query_string(raw, vocabulary, default_field)
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
        elif check_text(key, "q").startswith("$"):
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
        raise bad("q", f"q: unknown field {shown(key)}")
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
        if op == "$options" and operand not in REGEX_OPTIONS:
            raise bad("q", f"q: $options may only be \"i\" (case-insensitive) or empty, got {shown(operand)}; "
                           "write other flags inline, such as (?s)")
        return safe_regex(operand, "q") if op == "$regex" else operand
    return q_scalar(key, operand, vocabulary)


def q_scalar(key: str, value: Any, vocabulary: Vocabulary) -> Any:
    """Plain JSON values only (no embedded documents); dates are written as ISO strings."""
    if isinstance(value, str):
        return parse_date(value, "q") if key in vocabulary.dates else check_text(value, "q")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise bad("q", f"q: {key!r} is compared with an integer outside the 64-bit range")
        return value
    raise bad("q", f"q: {key!r} must be compared with a string, number, boolean or null")
