"""Validate once: the messages whose publisher the broker vouches for are not validated again by the ingest.

RabbitMQ sets nothing itself, but it *checks* the ``user_id`` property of every publish: a message whose
``user_id`` is not the user of the publishing connection is refused (the channel is closed), unless that user has
the ``impersonator`` tag. So with ``GATEWAY_BROKER_USER`` naming the broker user the gateways (and the other
services) connect as — a user of theirs alone: direct publishers connect as another one, never an impersonator —
a message carrying that ``user_id`` was published by a service. The services validate every alert and heartbeat
before publishing it (``ALERT_SCHEMA``/``HEARTBEAT_SCHEMA``) and publish it then as the schema gave it
(``validated_body``); the worker takes such a message as it is (services/ingest/vouched.py) instead of running the
schema again. Nothing else is trusted: not a header (a direct publisher sets any), not the body's shape (a message
that is not in the validated shape is validated in full).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson

from .replies import encode
from .settings import Settings


def broker_user(amqp_url: str) -> str:
    """The user the broker authenticates a connection to ``amqp_url`` as (aio-pika's default: guest)."""
    return unquote(urlsplit(amqp_url).username or "") or "guest"


def vouched_user(settings: Settings) -> str | None:
    """The ``user_id`` the services publish validated messages with: ``GATEWAY_BROKER_USER`` when it is the
    user of their connection (a publish claiming another user would be refused by the broker), else None."""
    user = settings.gateway_broker_user
    return user if user and user == broker_user(settings.amqp_url) else None


def validated_body(payload: dict[str, Any]) -> bytes:
    """An alert or heartbeat as its schema loaded it, on the wire: JSON, ``createTime`` in ISO 8601 (loaded by the
    schema again, it gives the same payload: what a worker that does not trust the publisher does)."""
    created = payload.get("createTime")
    wire = {**payload, "createTime": created.isoformat() if isinstance(created, datetime) else created}
    try:
        return orjson.dumps(wire)  # a tenth of the standard library's CPU
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: the standard library writes it
        return encode(wire)
