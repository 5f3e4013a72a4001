"""The worker's side of *validate once* (shared/vouching.py): a message whose ``user_id`` RabbitMQ vouches is the
services' own is taken as the schema gave it at the gateway, without running the schema again — the schema was
most of the worker's CPU per alert (``python -m bench.decode``). Only its shape is checked, which costs nearly
nothing: a body that is not exactly what ``validated_body`` writes is validated in full, as a direct publish is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.broker import ALERT, HEARTBEAT
from shared.schemas import ALERT_SCHEMA, HEARTBEAT_SCHEMA

FIELDS = {ALERT: frozenset(ALERT_SCHEMA.fields), HEARTBEAT: frozenset(HEARTBEAT_SCHEMA.fields)}


class Vouched:
    """Whether a message comes from the services' broker user (``GATEWAY_BROKER_USER``; empty: nobody)."""

    def __init__(self, gateway_user: str) -> None:
        self.gateway_user = gateway_user

    def vouches(self, kind: str, user_id: Any) -> bool:
        return bool(self.gateway_user) and kind in FIELDS and user_id == self.gateway_user

    @staticmethod
    def payload(kind: str, raw: Any) -> dict[str, Any] | None:
        """The validated payload in ``raw`` (decoded JSON), or None when it is not in the validated shape."""
        if not isinstance(raw, dict) or raw.keys() != FIELDS[kind]:
            return None
        created = raw["createTime"]
        if isinstance(created, str):
            try:
                raw["createTime"] = parsed = datetime.fromisoformat(created)
            except ValueError:
                return None
            if parsed.tzinfo is None:
                return None
        elif created is not None:
            return None
        return raw
