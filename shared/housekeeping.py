"""The request to run housekeeping now, as the gateway publishes it and an ingest worker reads it
(services/ingest/on_demand.py): ``{"deleteExpiredAfter": <seconds>, "deleteInfoAfter": <seconds>}``, the
thresholds of this run; a threshold left out (or null) is the worker's own (``DELETE_EXPIRED_AFTER``,
``DELETE_INFO_AFTER``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .settings import Settings

MAX_SECONDS = 10 * 365 * 86400  # a threshold beyond ten years is a mistake, not a policy
FIELDS = ("deleteExpiredAfter", "deleteInfoAfter")


@dataclass(frozen=True)
class Thresholds:
    """Seconds after their last reception at which alerts are deleted (0: never)."""

    delete_expired_after: int
    delete_info_after: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(settings.ingest.delete_expired_after, settings.ingest.delete_info_after)


def thresholds_of(body: bytes, defaults: Thresholds) -> Thresholds:
    """The thresholds a request asks for, ``defaults`` for those it leaves out; ``ValueError`` for anything but
    whole numbers of seconds."""
    decoded = json.loads(body)
    if not isinstance(decoded, dict):
        raise ValueError("a housekeeping request must be a JSON object")
    values = []
    for name, default in zip(FIELDS, (defaults.delete_expired_after, defaults.delete_info_after), strict=True):
        value = decoded.get(name)
        if value is None:
            value = default
        elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SECONDS:
            raise ValueError(f"{name} must be a whole number of seconds between 0 and {MAX_SECONDS}")
        values.append(value)
    return Thresholds(*values)


def request_body(delete_expired_after: int | None, delete_info_after: int | None) -> dict[str, Any]:
    """The body of a request for a run with these thresholds (None: the worker's own)."""
    return dict(zip(FIELDS, (delete_expired_after, delete_info_after), strict=True))
