"""Announcements of blackout changes, from the gateway that wrote one to every ingest worker's cache.

On ``alertbus.events``, routing key ``blackout.created``, ``blackout.updated`` or ``blackout.deleted``, body
``{"event": ..., "blackout": {"id", "environment", "startTime", "endTime", "resource", "event", "group", "origin",
"service", "tags"}}`` (a deleted one: ``{"id"}``), message type ``blackout``, signed with ``SERVICE_SECRET`` like
the services' other messages. A worker applies a signed announcement to its cache as it arrives — no store read
stands between a change and the next alert — and reloads from the store after any announcement, signed or not: the
store is the truth, an announcement only says when to look (a direct publisher can make a worker reload, never
change what it holds)."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pamqp.commands import Basic

from .blackouts import Window
from .broker import BrokerUnavailable, RpcClient
from .fieldtypes import isoformat
from .signing import SIGNATURE_HEADER, sign, signed_by_service

KIND = "blackout"
CREATED, UPDATED, DELETED = "created", "updated", "deleted"
BINDING = "blackout.*"
WINDOW_FIELDS = ("environment", "resource", "event", "group", "origin", "service", "tags", "customer")


@dataclass(frozen=True)
class Change:
    """What one announcement says: blackout ``id`` is now ``window`` (None: deleted)."""

    id: str
    window: Window | None


def encode(event: str, ident: str, doc: dict[str, Any] | None) -> bytes:
    blackout: dict[str, Any] = {"id": ident}
    if doc is not None:
        blackout.update({name: doc.get(name) for name in WINDOW_FIELDS})
        blackout.update(startTime=isoformat(doc["startTime"]), endTime=isoformat(doc["endTime"]))
    return json.dumps({"event": event, "blackout": blackout}).encode()


async def announce(rpc: RpcClient, event: str, ident: str, doc: dict[str, Any] | None, *, user: str | None) -> None:
    """Publish the change (with a confirm, bounded by ``RPC_TIMEOUT``); ``BrokerUnavailable`` when the broker did
    not take it."""
    if rpc.channel is None or not rpc.connected:
        raise BrokerUnavailable("the connection to the broker is down (reconnecting)")
    body, message_id = encode(event, ident, doc), str(uuid.uuid4())
    headers: dict[str, Any] = {"user": user}
    if rpc.settings.service_secret:
        headers[SIGNATURE_HEADER] = sign(rpc.settings.service_secret, KIND, message_id, user, body)
    message = aio_pika.Message(body, content_type="application/json", type=KIND, message_id=message_id,
                               headers=headers)
    exchange = await rpc.channel.get_exchange(rpc.names.events, ensure=False)
    timeout = rpc.settings.rpc_timeout
    try:
        # The outer bound also covers waiting for a channel that is being restored.
        async with asyncio.timeout(timeout):
            confirmation = await exchange.publish(message, routing_key=f"{KIND}.{event}", timeout=timeout)
    except (TimeoutError, aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
        raise BrokerUnavailable(f"the broker did not confirm the blackout announcement: {exc!r}") from exc
    if not isinstance(confirmation, Basic.Ack):
        raise BrokerUnavailable(f"the broker refused the blackout announcement: {confirmation!r}")


def _date(value: str) -> datetime:
    return datetime.fromisoformat(value.removesuffix("Z") + "+00:00")


def read(secret: str, message: AbstractIncomingMessage) -> Change | None:
    """The change a signed announcement carries; None for any other message (or one that does not parse)."""
    if message.type != KIND or not signed_by_service(secret, message):
        return None
    try:
        blackout = json.loads(message.body)["blackout"]
        ident = str(blackout["id"])
        if "environment" not in blackout:
            return Change(ident, None)
        doc = {name: blackout.get(name) for name in WINDOW_FIELDS}
        doc.update(_id=ident, startTime=_date(blackout["startTime"]), endTime=_date(blackout["endTime"]))
        return Change(ident, Window.of(doc))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
