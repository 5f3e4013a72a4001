"""What a parity sequence is made of. Sequences are data, so that one runner replays them against both servers
and a reader sees the requests without reading the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One request. ``path`` and string values of ``body`` may name saved values as ``{name}``: each server gets
    its own (an alert's id differs between them). ``save`` maps a name to a dotted path in the answer's body whose
    value later steps use and which the comparison shows as ``<name>`` on both sides."""

    name: str
    method: str
    path: str
    body: Any = None
    raw: bytes | None = None  # sent as is instead of ``body`` (bad JSON)
    content_type: str = "application/json"
    auth: bool = True
    save: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sequence:
    """Steps sent in order. ``requires`` names a feature another branch brings (``accounts``, ``customers``): such a
    sequence is skipped, with a note, while alertbus answers its ``probe`` path with 404."""

    name: str
    steps: tuple[Step, ...]
    requires: str | None = None
    probe: str | None = None


def get(method: str, path: str, name: str | None = None, **kwargs: Any) -> Step:
    return Step(name or f"{method} {path}", method, path, **kwargs)


def alert(step: str, save: str | None, resource: str, event: str, severity: str = "major", **fields: Any) -> Step:
    """POST /alert of an alert with the fields every sequence fills the same way (an origin: the default is the
    server's process name, which differs by nature); its id is saved as ``save``."""
    body = {"resource": resource, "event": event, "environment": "Production", "severity": severity,
            "service": ["Web"], "origin": "parity/test", "text": f"{event} on {resource}", **fields}
    return Step(step, "POST", "/alert", body, save={save: "id"} if save else {})
