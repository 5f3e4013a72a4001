"""Settling a batch with the broker: the replies to RPC callers, the change events, then the acks, rejects and
requeues — each bounded in time and tolerant of a lost connection.

A message is settled on the channel it was delivered on. When that channel is gone (the connection was lost
since the message arrived; the robust connection reconnects with new channels), the broker has already put the
message back in its queue: it is neither answered nor settled here. It will be delivered again, recognised as
applied (its receive id is in the alert's ``_rids``), and answered then. Settling it on the new channel would
be wrong: its delivery tag means another message there, or none (and the broker closes a channel that
acknowledges an unknown tag).

Every broker operation is bounded: a publish on a robust channel whose connection is reconnecting would wait
for the reconnection otherwise, and a batch must never hang its lane. Bounded means *waited for* at most so
long, never cancelled: an operation that outlives its bound goes on in the background (``unhurried``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Iterable
from typing import Any

import aio_pika
import orjson
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError, MessageProcessError

from shared import logs
from shared.broker import UPDATED_KEY
from shared.metrics import Metrics
from shared.settings import Settings

from .groups import Item, Settle

log = logging.getLogger("alertbus.ingest")
BROKER_ERRORS = (AMQPError, ChannelInvalidStateError, MessageProcessError, ConnectionError, TimeoutError)
REPLY_TIMEOUT = 2.0  # seconds; a reply is best effort (the caller answers 202 without it)
EVENTS_TIMEOUT = 5.0  # seconds for a batch's change events to be confirmed
SETTLE_TIMEOUT = 5.0  # seconds for one ack / nack / reject to be written
MAX_REQUEST_ID = 128  # characters of a message's request id kept for the log lines


def delivered_on(message: AbstractIncomingMessage) -> Any | None:
    """The (low-level) channel the message was delivered on, or None once that channel is closed."""
    try:
        return message.channel
    except ChannelInvalidStateError:
        return None


async def unhurried(operation: Awaitable[Any], timeout: float, what: str) -> Any:
    """Wait at most ``timeout`` seconds for a broker operation, without cancelling it when the time is up
    (TimeoutError then; it goes on in the background and a late failure is logged). Cancelling publishes that
    wait for their confirms closes their channel inside aiormq, and the connection then stopped reading: seen
    with a worker given little CPU (nice 5 on a loaded machine), whose 500 events of a batch outlived
    EVENTS_TIMEOUT — "Closing channel … because RPC call … cancelled", then "No frames were received in 183
    seconds", and nothing consumed in between."""
    task = asyncio.ensure_future(operation)
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.shield(task)
    except TimeoutError:
        task.add_done_callback(lambda done: _late(done, what))
        raise


def _late(task: asyncio.Future[Any], what: str) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("%s failed after its time was up: %s: %s", what, type(exc).__name__, exc)


async def bounded(operation: Awaitable[Any], timeout: float, what: str) -> bool:
    """Run a broker operation within ``timeout``; False (logged) when it failed or timed out (it then goes on
    in the background: ``unhurried``)."""
    try:
        await unhurried(operation, timeout, what)
        return True
    except BROKER_ERRORS as exc:
        log.warning("%s failed: %s: %s", what, type(exc).__name__, exc)
        return False


class Settler:
    def __init__(self, settings: Settings, metrics: Metrics, replies: AbstractChannel,
                 events: AbstractExchange | None) -> None:
        self.settings, self.metrics, self.replies, self.events = settings, metrics, replies, events

    async def settle_batch(self, items: list[Item]) -> int:
        """Reply, then settle: rejects and requeues one by one, and the acknowledged messages of each delivery
        channel with a single multiple-ack on the last one (a lane's batch holds all of its channel's unsettled
        deliveries up to that tag, in order). Returns how many messages were left to redelivery."""
        last_ack: dict[int, AbstractIncomingMessage] = {}
        orphans = 0
        for item in items:
            channel = delivered_on(item.message)
            if channel is None:
                orphans += 1
                continue
            with logs.bound(request_id(item.message)):
                if await self._settle(item):
                    last_ack[id(channel)] = item.message
        for message in last_ack.values():
            await bounded(message.ack(multiple=True), SETTLE_TIMEOUT, "acknowledgement")
        if orphans:
            log.warning("%d messages arrived on a channel that has closed since; the broker redelivers them",
                        orphans)
        return orphans

    async def give_back(self, messages: Iterable[AbstractIncomingMessage], reason: str) -> None:
        """Return unprocessed messages to their queues now (a requeue), so that no later multiple-ack of the
        lane covers them. Those whose channel is gone are back in their queue already."""
        live = [m for m in messages if delivered_on(m) is not None]
        if live:
            log.warning("%d messages return to the broker: %s", len(live), reason)
        for message in live:
            await bounded(message.nack(requeue=True), SETTLE_TIMEOUT, "requeue")

    async def _settle(self, item: Item) -> bool:
        """Reply and reject/requeue as the item says; True when the message is to be acknowledged."""
        message = item.message
        final = item.settle is Settle.DEAD or (
            item.settle is Settle.RETRY and delivery_count(message) + 1 >= self.settings.max_deliveries
        )
        if item.reply and message.reply_to and (item.settle is not Settle.RETRY or final):
            await self._reply(message, *item.reply)
        log.debug("%s %s: %s", item.kind, message.message_id, item.reason or item.settle,
                  extra={"code": item.reply[0] if item.reply else None})
        if item.reason == "guard":
            self.metrics.commands_skipped.labels(item.op or "").inc()
        if item.settle is Settle.ACK:
            return True
        if final:
            # Dead-letter it ourselves on the last try, so that it is counted exactly once; the queue's
            # x-delivery-limit stays as the broker-side backstop (e.g. for a worker that crashes on it).
            log.warning("%s %s dead-lettered (%s)", item.kind, message.message_id, item.reason or "error")
            if await bounded(message.reject(requeue=False), SETTLE_TIMEOUT, "reject"):
                self.metrics.dead_lettered.labels(item.reason or "error").inc()
        else:
            await bounded(message.nack(requeue=True), SETTLE_TIMEOUT, "requeue")
        return False

    async def _reply(self, message: AbstractIncomingMessage, code: int, body: dict[str, Any]) -> None:
        try:
            raw = _encode({"code": code, "body": body})
        except (TypeError, ValueError) as exc:  # one reply that cannot be encoded must not stop the batch
            log.error("the reply to %s could not be encoded: %s: %.200s", message.message_id, type(exc).__name__, exc)
            raw = _encode({"code": 500, "body": {"status": "error", "message": "the reply could not be encoded",
                                                 "code": 500, "errors": None}})
        # Not mandatory: a caller that is gone (its reply queue went with its connection) is no error.
        reply = aio_pika.Message(raw, content_type="application/json", correlation_id=message.correlation_id)
        await bounded(self.replies.default_exchange.publish(reply, routing_key=message.reply_to or "",
                                                            mandatory=False),
                      REPLY_TIMEOUT, f"reply to {message.reply_to}")

    async def publish_events(self, events: list[dict[str, Any]]) -> None:
        """Notify what changed (and the heartbeat watch of heartbeats due soon), after the write and before the
        acks. Best effort: the writes are stored whatever happens here, so a failure is logged, not retried."""
        if not events or self.events is None:
            return
        exchange = self.events
        encoded = []
        for event in coalesced(events):
            try:
                subject = "heartbeat" if "heartbeat" in event else "alert"  # heartbeat.due: heartbeat_watch.py
                key = UPDATED_KEY if event["event"] == "updated" else f"{subject}.{event['event']}"
                encoded.append((_encode(event), key))
            except (TypeError, ValueError) as exc:  # skipped alone: the other events of the batch still go out
                log.error("an alert event could not be encoded: %s: %.200s", type(exc).__name__, exc)
        publishes = asyncio.gather(*(
            exchange.publish(
                aio_pika.Message(raw, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                # Not mandatory: a change nobody subscribes to (no notifier, no console open) is dropped by the
                # broker. Mandatory, each came back as a basic.return — a frame to send, parse and log per event,
                # 7 % of the worker's CPU on the 201 path (py-spy).
                routing_key=key, mandatory=False,
            )
            for raw, key in encoded
        ), return_exceptions=True)
        try:
            results = await unhurried(publishes, EVENTS_TIMEOUT, "publishing a batch's events")
        except TimeoutError:
            results = [TimeoutError()]
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            log.warning("could not publish %d of %d alert events: %r", len(failed), len(events), failed[0])


def coalesced(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A batch's events with only the last ``updated`` event of each alert: each carries the alert's whole state,
    so the last says all, and a burst of duplicates costs one publish, not one per duplicate."""
    last: dict[Any, int] = {}
    for n, event in enumerate(events):
        if event.get("event") == "updated":
            last[(event.get("alert") or {}).get("id")] = n
    return [event for n, event in enumerate(events)
            if event.get("event") != "updated" or last.get((event.get("alert") or {}).get("id")) == n]


def _encode(body: dict[str, Any]) -> bytes:
    """Replies and events are the worker's largest encodes (an alert with its history): orjson, about 10 µs of CPU
    less per alert than the standard library (``python -m bench.decode``); the standard library for what orjson
    refuses (an integer beyond 64 bits), so that the answer is the same."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:
        return json.dumps(body, separators=(",", ":")).encode()


def request_id(message: AbstractIncomingMessage) -> str | None:
    """The gateway's request id (message header ``request_id``), so that the worker's log lines carry it. Cut
    short: a direct publisher sets it to anything, and it is repeated on every log line about the message."""
    value = (message.headers or {}).get("request_id")
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    return value[:MAX_REQUEST_ID] if isinstance(value, str) else None


def delivery_count(message: AbstractIncomingMessage) -> int:
    value = (message.headers or {}).get("x-delivery-count", 0)
    return int(value) if isinstance(value, int) else 0
