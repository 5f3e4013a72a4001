"""The vocabulary of the read API's query language: which fields each resource may be filtered and sorted by,
with their stored types, and the checks every value passes (dates, regular expressions, field names). Pure; a
mistake is a ``BadInput`` naming the parameter (the HTTP layer turns it into a 400)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .schemas import BadInput

MAX_REGEX = 256
# A group holding a quantifier, itself quantified: the shape of catastrophic backtracking.
# MongoDB runs regexes without a time limit, so such patterns are refused up front.
NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,)")


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
def bad(param: str, message: str) -> BadInput:
    return BadInput(message, {param: message})



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


