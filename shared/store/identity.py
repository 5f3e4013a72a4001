"""The unique identity index of alerts: ``(environment, resource, event, customer)``, as Alerta keys an alert (the
customer is part of it: two customers' alerts of one resource and event are two alerts). The group loads use its
``(environment, resource)`` prefix."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

IDENTITY = [("environment", ASCENDING), ("resource", ASCENDING), ("event", ASCENDING), ("customer", ASCENDING)]


async def ensure_identity(alerts: AsyncCollection[dict[str, Any]], existing: Mapping[str, Any]) -> None:
    """Create the index; one of an earlier version (without ``customer``) is dropped first. Idempotent, and safe
    when several services start at once (a drop another one made first is fine)."""
    old = existing.get("identity")
    if old is not None and [tuple(key) for key in old.get("key", [])] != [tuple(key) for key in IDENTITY]:
        with contextlib.suppress(OperationFailure):
            await alerts.drop_index("identity")
    await alerts.create_index(IDENTITY, unique=True, name="identity")
