"""The request to run housekeeping now, as the gateway publishes it and an ingest worker reads it
(services/ingest/on_demand.py): ``{"deleteExpiredAfter": <seconds>, "deleteInfoAfter": <seconds>}``, the
thresholds of this run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .settings import Settings

MAX_SECONDS = 10 * 365 * 86400  # a threshold beyond ten years is a mistake, not a policy


@dataclass(frozen=True)
class Thresholds:
    """Seconds after their last reception at which alerts are deleted (0: never)."""

    delete_expired_after: int
    delete_info_after: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(settings.delete_expired_after, settings.delete_info_after)



def thresholds_of(body: bytes) -> Thresholds:
    """The thresholds a request asks for; ``ValueError`` for anything but two whole numbers of seconds."""
    decoded = json.loads(body)
    if not isinstance(decoded, dict):
        raise ValueError("a housekeeping request must be a JSON object")
    values = []
    for name in ("deleteExpiredAfter", "deleteInfoAfter"):
        value = decoded.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SECONDS:
            raise ValueError(f"{name} must be a whole number of seconds between 0 and {MAX_SECONDS}")
        values.append(value)
    return Thresholds(*values)


def request_body(thresholds: Thresholds) -> dict[str, Any]:
    """The body of a request for a run with ``thresholds`` (``thresholds_of`` reads it)."""
    return {"deleteExpiredAfter": thresholds.delete_expired_after, "deleteInfoAfter": thresholds.delete_info_after}
