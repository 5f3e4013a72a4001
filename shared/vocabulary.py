"""The vocabulary of the read API's query language: which fields each resource may be filtered and sorted by,
with their stored types, and the checks every value passes (dates, field names, text; regular expressions are
``regexes.py``'s). Pure; a mistake is a ``BadInput`` naming the parameter (the HTTP layer turns it into a 400)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .schemas import BadInput

MAX_FIELD = 256  # characters of a filtered field's name
MAX_PATH = 32  # parts of a dotted attribute path (the depth a stored attribute may have)
SHOWN = 80  # characters of a user's text quoted back in a message


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
    aliases: dict[str, str] = field(default_factory=dict)  # filter name → the field it filters


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
    # Alerta 9.1 filters one tag with ``tag=`` (and ``tag!=``); v3's ``tags=`` is kept.
    aliases={"tag": "tags"},
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


def shown(text: str) -> str:
    """A user's text as quoted in a message: bounded, and printable whatever it holds."""
    return ascii(text if len(text) <= SHOWN else text[:SHOWN] + "…")


def encodable(value: str) -> bool:
    """Whether ``value`` can be stored and sent: a lone surrogate (what undecodable bytes may become) cannot."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str, param: str) -> str:
    if not encodable(value):
        raise bad(param, f"{param[:SHOWN]}: {shown(value)} is not valid Unicode text")
    return value


def parse_date(raw: str, name: str) -> datetime:
    """ISO 8601 (Alerta sends ``2024-01-31T12:00:00.000Z``); a date without a zone is UTC."""
    try:
        value = datetime.fromisoformat(raw.strip())
        # A zone can move a date of year 1 or 9999 out of the range of dates (OverflowError).
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise bad(name, f"{name} must be an ISO 8601 date-time between the years 1 and 9999 (UTC) such as "
                        f"2024-01-31T12:00:00.000Z, got {shown(raw)}") from None


def field_name(base: str, vocabulary: Vocabulary, param: str) -> str:
    if base.startswith("attributes.") and vocabulary.attributes:
        return attribute_path(base, param)
    if base in vocabulary.dates:
        raise bad(param, f"{param}: dates cannot be filtered by value; use from-date and to-date")
    if base in vocabulary.strings or base in vocabulary.ints or base in vocabulary.bools:
        return base
    raise bad(param, f"unknown filter field {shown(param)}")


def attribute_path(base: str, param: str) -> str:
    """``attributes.x[.y …]``: every part a plain field name (a path of the stored document, never an operator)."""
    path = base.split(".")
    problem = (
        "is too long" if len(base) > MAX_FIELD else
        f"is deeper than {MAX_PATH} parts" if len(path) > MAX_PATH else
        "has an empty part" if not all(path) else
        "has a part starting with $" if any(part.startswith("$") for part in path) else
        "holds a NUL character" if "\x00" in base else
        "is not valid Unicode text" if not encodable(base) else None
    )
    if problem is None:
        return base
    raise bad(param, f"{param[:SHOWN]}: invalid attribute path {shown(base)}: it {problem}")
