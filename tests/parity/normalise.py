"""Answers made comparable: what differs between two servers by nature (ids, times, the base URL, request ids,
durations measured at read time) is replaced by a placeholder, then the two answers are compared field by field."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Numbers measured at the moment of the request (milliseconds and seconds since something): equal only by luck.
# Values that are random by nature (request ids, login tokens).
OPAQUE = frozenset({"requestId", "token"})
MEASURED = frozenset({"latency", "since", "remaining", "uptime", "autoRefresh"})
# Lists whose order Alerta leaves to PostgreSQL (an alert's tags are a SELECT DISTINCT of an array; the rows of
# /alerts/tags, /services, /alerts/groups and the resources of a top 10 row come in no stated order; top 10 rows
# of equal counts neither): compared as sorted, rows by count (largest first) and then by content.
UNORDERED = frozenset({"tags", "services", "groups", "environments", "top10", "resources"})
ABSENT = "<absent>"


# What names a row of those lists (its other fields may differ, and are compared after sorting).
IDENTITY = ("environment", "service", "group", "tag", "event", "resource", "id", "origin")


def unordered(items: list[Any]) -> list[Any]:
    def key(item: Any) -> tuple[int, str]:
        if not isinstance(item, dict):
            return (0, json.dumps(item, sort_keys=True))
        count = item.get("count")
        names = [item[name] for name in IDENTITY if name in item] or [item]
        return (-count if isinstance(count, int) else 0, json.dumps(names, sort_keys=True))
    return sorted(items, key=key)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # JSON, or the text of a body that is not JSON, or None when empty
    location: str | None


@dataclass(frozen=True)
class Difference:
    path: str  # "status", "location", "body.alert.history.0.user"
    reference: Any
    alertbus: Any

    def __str__(self) -> str:
        return f"{self.path}: reference {short(self.reference)} | alertbus {short(self.alertbus)}"


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


class Normaliser:
    """The placeholders of one server: its base URL and the values saved from its answers (an alert's id is
    ``<a1>`` on both sides), any other UUID ``<uuid>``, any date-time ``<time>``."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.saved: dict[str, str] = {}

    def save(self, name: str, value: Any) -> None:
        if isinstance(value, str) and value:
            self.saved[name] = value

    def text(self, value: str) -> str:
        if TIME.match(value):
            return "<time>"
        value = value.replace(self.base, "<base>")
        for name, saved in sorted(self.saved.items(), key=lambda item: -len(item[1])):
            value = value.replace(saved, f"<{name}>")
        return UUID.sub("<uuid>", value)

    def value(self, value: Any, key: str = "") -> Any:
        if key in OPAQUE and isinstance(value, str):
            return f"<{key}>"
        if key in MEASURED and isinstance(value, int | float | str) and not isinstance(value, bool):
            return "<measured>"
        if isinstance(value, dict):
            return {k: self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            items = [self.value(v) for v in value]
            return unordered(items) if key in UNORDERED else items
        if isinstance(value, str):
            return self.text(value)
        return value

    def answer(self, answer: Answer) -> Answer:
        location = self.text(answer.location) if answer.location else None
        return Answer(answer.status, self.value(answer.body), location)


def compare(reference: Answer, alertbus: Answer) -> list[Difference]:
    """Every difference between two normalised answers, by path (list items by index)."""
    found: list[Difference] = []
    if reference.status != alertbus.status:
        found.append(Difference("status", reference.status, alertbus.status))
    if reference.location != alertbus.location:
        found.append(Difference("location", reference.location, alertbus.location))
    walk(reference.body, alertbus.body, "body", found)
    return found


def walk(ref: Any, bus: Any, path: str, found: list[Difference]) -> None:
    if isinstance(ref, dict) and isinstance(bus, dict):
        for key in [*ref, *(k for k in bus if k not in ref)]:
            walk(ref.get(key, ABSENT), bus.get(key, ABSENT), f"{path}.{key}", found)
    elif isinstance(ref, list) and isinstance(bus, list):
        for index in range(max(len(ref), len(bus))):
            walk(ref[index] if index < len(ref) else ABSENT, bus[index] if index < len(bus) else ABSENT,
                 f"{path}.{index}", found)
    elif ref != bus or type(ref) is not type(bus):
        found.append(Difference(path, ref, bus))
