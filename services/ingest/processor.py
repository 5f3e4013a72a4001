"""Apply a batch of ingest messages: decode, pre-receive policy, reception rules, one bulk write.

Every message ends in exactly one ``Settle`` decision, mapped to ack / reject / requeue in one place
(``Settler._settle``, settle.py):

* ``ACK`` — applied (or refused by policy, which is a definitive answer);
* ``DEAD`` — can never be applied (not JSON, invalid body): rejected without requeue → dead-letter queue;
* ``RETRY`` — failed unexpectedly: requeued; the broker's ``x-delivery-limit`` dead-letters it after
  ``MAX_DELIVERIES`` tries.
"""

from __future__ import annotations

import logging
import socket
import uuid

from aio_pika.abc import AbstractIncomingMessage

from shared import rules
from shared.broker import ALERT, COMMAND, HEARTBEAT
from shared.commands import DELETE_HEARTBEAT
from shared.metrics import Metrics
from shared.render import heartbeat_body
from shared.schemas import ALERT_SCHEMA, COMMAND_MESSAGE, HEARTBEAT_SCHEMA, BadInput, load_body, parse_json
from shared.settings import Settings
from shared.store import Store, StoreUnavailable, now_ms

from .groups import Item, Settle, apply_groups, error_body

log = logging.getLogger("alertbus.ingest")
MAX_CONFLICT_ROUNDS = 5
DEFAULT_ORIGIN = f"alertbus/{socket.gethostname()}"


class Processor:
    def __init__(self, store: Store, settings: Settings, metrics: Metrics) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.policy = rules.Policy(
            settings.allowed_environments, settings.origin_blacklist, settings.require_service
        )

    # -- decoding -------------------------------------------------------------------------------

    def decode(self, message: AbstractIncomingMessage) -> Item:
        kind = message.type or ALERT
        item = Item(message, kind)
        schema = {ALERT: ALERT_SCHEMA, HEARTBEAT: HEARTBEAT_SCHEMA, COMMAND: COMMAND_MESSAGE}.get(kind)
        if schema is None:
            item.finish(Settle.DEAD, 400, error_body(400, f"unknown message type {kind!r}"), "invalid")
            return item
        try:
            payload = load_body(schema, parse_json(message.body))
        except BadInput as exc:
            item.finish(Settle.DEAD, 400, error_body(400, exc.message, exc.errors), "invalid")
            return item
        ident = message.message_id or ""
        receive_id = ident if 0 < len(ident) <= 128 else str(uuid.uuid4())
        user = (message.headers or {}).get("user")
        if kind == COMMAND:
            payload.update(receiveId=receive_id, user=payload["user"] or user)
            item.payload = payload
            return item
        payload.update(id=receive_id, user=user, createTime=payload["createTime"] or now_ms())
        if payload["timeout"] is None:
            payload["timeout"] = self.settings.alert_timeout if kind == ALERT else self.settings.heartbeat_timeout
        payload["origin"] = payload["origin"] or DEFAULT_ORIGIN
        if kind == ALERT:
            try:
                self.policy.check(payload)
            except rules.Rejected as exc:
                self.metrics.alerts_received.labels("rejected").inc()
                item.finish(Settle.ACK, 403, error_body(403, str(exc)), "rejected")
                return item
        item.payload = payload
        return item

    # -- processing -----------------------------------------------------------------------------

    async def process(self, messages: list[AbstractIncomingMessage]) -> list[Item]:
        """Decide every message of the batch. Raises ``StoreUnavailable`` when the database is down:
        the caller keeps the messages unacknowledged and tries the batch again later."""
        items = [self.decode(message) for message in messages]
        pending = [item for item in items if item.settle is None]
        try:
            await self._apply(pending)
        except StoreUnavailable:
            raise
        except Exception as exc:
            if len(pending) <= 1:
                for item in pending:
                    # Never log the exception whole: a bulk-write error carries the documents.
                    log.error("message %s failed: %s: %.300s", item.message.message_id, type(exc).__name__, exc)
                    item.finish(Settle.RETRY, 503, error_body(503, "the alert could not be processed"), "error")
            else:
                # A poison message fails the whole bulk write: apply one at a time to isolate it.
                for item in pending:
                    item.settle = None
                    await self.process_one(item)
        return items

    async def process_one(self, item: Item) -> None:
        try:
            await self._apply([item])
        except StoreUnavailable:
            raise
        except Exception as exc:
            log.error("message %s failed: %s: %.300s", item.message.message_id, type(exc).__name__, exc)
            item.finish(Settle.RETRY, 503, error_body(503, "the alert could not be processed"), "error")

    async def _apply(self, items: list[Item]) -> None:
        grouped = []
        for item in items:
            if item.kind == HEARTBEAT or (item.kind == COMMAND and item.op == DELETE_HEARTBEAT):
                await self._apply_heartbeat(item)
            else:
                grouped.append(item)
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not grouped:
                return
            grouped = await apply_groups(self.store, grouped, self.settings.history_limit, self.metrics)
        for item in grouped:
            item.finish(Settle.RETRY, 503, error_body(503, "the alert kept conflicting; retried later"), "conflict")

    async def _apply_heartbeat(self, item: Item) -> None:
        heartbeat = item.payload
        assert heartbeat is not None
        if item.kind == COMMAND:
            if await self.store.delete_heartbeat(heartbeat["id"]):
                self.metrics.commands_applied.labels(DELETE_HEARTBEAT).inc()
                item.finish(Settle.ACK, 200, {"status": "ok"}, "command")
            else:
                item.finish(Settle.ACK, 404, error_body(404, "not found"), "not-found")
            return
        heartbeat["receiveTime"] = now_ms()
        doc = await self.store.save_heartbeat(heartbeat)
        self.metrics.heartbeats_received.inc()
        body = heartbeat_body(doc, self.settings.heartbeat_max_latency_ms)
        item.finish(Settle.ACK, 201, {"status": "ok", "id": doc["_id"], "heartbeat": body}, "heartbeat")
