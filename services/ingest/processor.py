"""Apply a batch of ingest messages: decode, pre-receive policy, reception rules, one bulk write.

Every message ends in exactly one ``Settle`` decision, mapped to ack / reject / requeue in one place
(``Settler._settle``, settle.py):

* ``ACK`` — applied (or refused by policy, which is a definitive answer);
* ``DEAD`` — can never be applied (not JSON, invalid body, anything that decoding it raised): rejected without
  requeue → dead-letter queue, alone (``decode`` is guarded per message);
* ``RETRY`` — failed unexpectedly: requeued; the broker's ``x-delivery-limit`` dead-letters it after
  ``MAX_DELIVERIES`` tries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
import uuid
from typing import Any, NamedTuple

from aio_pika.abc import AbstractIncomingMessage

from shared import rules
from shared.blackouts import BLACKOUT_STATUS, MARK, SUPPRESSED
from shared.broker import ALERT, COMMAND, HEARTBEAT
from shared.commands import DELETE_HEARTBEAT
from shared.metrics import Metrics
from shared.render import heartbeat_body
from shared.schemas import ALERT_SCHEMA, COMMAND_MESSAGE, HEARTBEAT_SCHEMA, BadInput, load_body, parse_json
from shared.settings import Settings
from shared.signing import SIGNATURE_HEADER, signed_by_service
from shared.store import Store, StoreUnavailable, now_ms
from shared.store.group_cache import GroupCache

from .blackouts import BlackoutCache
from .groups import Attempted, Item, Settle, apply_groups, error_body
from .heartbeat_watch import due_event
from .vouched import Vouched

log = logging.getLogger("alertbus.ingest")
MAX_CONFLICT_ROUNDS = 5
MAX_RECEIVE_ID = 128  # characters of a signed message's id taken as its receive id (longer: a fresh one)
DEFAULT_ORIGIN = f"alertbus/{socket.gethostname()}"


class Sender(NamedTuple):
    user: str | None
    receive_id: str
    signed: bool


def direct_namespace(secret: str) -> uuid.UUID:
    """The namespace of direct publishers' receive ids. Keyed with the secret, so that a publisher cannot predict
    the id its message will get (nor grind a message_id whose id shares its 8-character short form with another
    alert's); without a secret it is fixed, and the ids are predictable but still apart from the services'."""
    return uuid.UUID(bytes=hmac.new(secret.encode(), b"alertbus direct receive ids", hashlib.sha256).digest()[:16])


def direct_receive_id(namespace: uuid.UUID, user_id: str | None, message_id: str) -> str:
    """The receive id of a direct message: a version-5 UUID, so never equal to an id the services make (version 4),
    and the same for every delivery of one message (redeliveries are recognised). The AMQP user is part of it:
    one broker user cannot reach another's ids by reusing its message ids."""
    return str(uuid.uuid5(namespace, json.dumps([user_id or "", message_id])))


class Senders:
    """Who sent a message, and its receive id. A message signed with SERVICE_SECRET comes from a service: its
    ``user`` header and ``message_id`` are taken as they are. Any other message is a direct publish: its user is
    what RabbitMQ vouches for (the ``user_id`` property, checked against the connection's user) and its receive
    id is derived from its message_id."""

    WARN_EVERY = 60.0  # seconds between two warnings about messages signed with another secret

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.namespace = direct_namespace(secret)
        self.mismatched = 0  # messages with a signature that did not verify, since the last warning
        self.warned_at = -self.WARN_EVERY

    def identify(self, message: AbstractIncomingMessage) -> Sender:
        ident = message.message_id if isinstance(message.message_id, str) else ""
        if signed_by_service(self.secret, message):
            user = (message.headers or {}).get("user")  # a str or None: anything else is never signed
            receive_id = ident if 0 < len(ident) <= MAX_RECEIVE_ID else str(uuid.uuid4())
            return Sender(user if isinstance(user, str) else None, receive_id, True)
        if SIGNATURE_HEADER in (message.headers or {}):
            self._mismatch()
        vouched = message.user_id if isinstance(message.user_id, str) and message.user_id else None
        receive_id = direct_receive_id(self.namespace, vouched, ident) if ident else str(uuid.uuid4())
        return Sender(f"amqp:{vouched}" if vouched else "amqp", receive_id, False)

    def _mismatch(self) -> None:
        """A signature that does not verify is most often a service started with another SERVICE_SECRET: say so,
        at most once a minute (a forger must not flood the log)."""
        self.mismatched += 1
        now = time.monotonic()
        if now - self.warned_at >= self.WARN_EVERY:
            log.warning("%d messages carried a signature that does not verify and were taken as direct publishes; "
                        "do all services have the same SERVICE_SECRET?", self.mismatched)
            self.mismatched, self.warned_at = 0, now


class Processor:
    def __init__(self, store: Store, settings: Settings, metrics: Metrics,
                 blackouts: BlackoutCache | None = None) -> None:
        self.store = store
        self.blackouts = blackouts
        self.settings = settings
        self.metrics = metrics
        self.policy = settings.rules.policy()
        self.senders = Senders(settings.service_secret)
        self.vouched = Vouched(settings.gateway_broker_user)  # validated at the gateway: see vouched.py
        self.attempted = Attempted()  # messages of failed batches whose counter updates were journalled
        self.groups = GroupCache()  # the alert groups this worker wrote last (emptied by the Worker on shard moves)

    # -- decoding -------------------------------------------------------------------------------

    def decode(self, message: AbstractIncomingMessage) -> Item:
        """Decode, validate and check one message. Guarded: whatever this raises for one message (a date the
        schema cannot convert, a body nested too deep for the JSON parser, a header of an odd type ...)
        dead-letters that message alone, with its reason; the rest of the batch goes on."""
        kind = message.type if isinstance(message.type, str) and message.type else ALERT
        item = Item(message, kind)
        try:
            self._decode(item)
        except Exception as exc:
            # Decoding depends on nothing but the message: a retry would fail the same way.
            log.warning("%s %.128r cannot be decoded, dead-lettered: %s: %.300s",
                        kind, message.message_id, type(exc).__name__, exc)
            item.payload = None
            item.finish(Settle.DEAD, 400, error_body(400, "the message cannot be decoded"), "undecodable")
        return item

    def _decode(self, item: Item) -> None:
        message, kind = item.message, item.kind
        schema = {ALERT: ALERT_SCHEMA, HEARTBEAT: HEARTBEAT_SCHEMA, COMMAND: COMMAND_MESSAGE}.get(kind)
        if schema is None:
            item.finish(Settle.DEAD, 400, error_body(400, f"unknown message type {kind[:64]!r}"), "invalid")
            return
        try:
            raw = parse_json(message.body)
            vouched = self.vouched.payload(kind, raw) if self.vouched.vouches(kind, message.user_id) else None
            payload = vouched if vouched is not None else load_body(schema, raw)
        except BadInput as exc:
            item.finish(Settle.DEAD, 400, error_body(400, exc.message, exc.errors), "invalid")
            return
        user, receive_id, signed = self.senders.identify(message)
        if kind == COMMAND:
            # A command's body names its user too: believed of a signed message only.
            payload.update(receiveId=receive_id, user=(payload["user"] or user) if signed else user)
            item.payload = payload
            return
        payload.update(id=receive_id, user=user, createTime=payload["createTime"] or now_ms())
        if payload["timeout"] is None:
            defaults = self.settings.rules
            payload["timeout"] = defaults.alert_timeout if kind == ALERT else defaults.heartbeat_timeout
        payload["origin"] = payload["origin"] or DEFAULT_ORIGIN
        if kind == ALERT:
            try:
                self.policy.check(payload)
            except rules.Rejected as exc:
                self.metrics.alerts_received.labels("rejected").inc()
                item.finish(Settle.ACK, 403, error_body(403, str(exc)), "rejected")
                return
            if self._suppressed(item, payload):
                return
        item.payload = payload

    def _suppressed(self, item: Item, alert: dict[str, Any]) -> bool:
        """The blackout rule, after the policy (as Alerta's plugins run): an alert a blackout covers is dropped
        with 202 and Alerta's message, or, with NOTIFICATION_BLACKOUT, stored with status ``blackout``."""
        verdict = self.blackouts.check(alert) if self.blackouts is not None else None
        if verdict is None:
            return False
        if verdict[0] == MARK:
            alert["status"] = BLACKOUT_STATUS
            return False
        self.metrics.alerts_received.labels("blackout").inc()
        item.finish(Settle.ACK, 202, {"status": "ok", "id": alert["id"], "message": SUPPRESSED}, "blackout")
        return True

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
                # A poison message fails the whole bulk write: apply one at a time to isolate it. What the batch
                # decided already stays decided: a heartbeat is written on its own, before the group write, and a
                # command found no alert or a guard that failed is answered without a write.
                for item in pending:
                    if item.settle is None:
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
        refused: list[Item] = []
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not grouped:
                break
            grouped, failed = await apply_groups(self.store, grouped, self.settings.rules.history_limit,
                                                 self.metrics, self.attempted, self.groups)
            refused += failed
        for item in grouped:
            item.finish(Settle.RETRY, 503, error_body(503, "the alert kept conflicting; retried later"), "conflict")
        # The store refused these writes (and only these: the batch's other writes landed and are answered): each
        # is tried alone, so that one poison message does not take the others of its alert with it.
        for item in refused:
            if len(items) > 1:
                await self.process_one(item)
            else:
                log.error("message %s: the store refused its write", item.message.message_id)
                item.finish(Settle.RETRY, 503, error_body(503, "the alert could not be processed"), "error")

    async def _apply_heartbeat(self, item: Item) -> None:
        heartbeat = item.payload
        assert heartbeat is not None
        if item.kind == COMMAND:
            if await self.store.delete_heartbeat(heartbeat["id"], heartbeat.get("customers")):
                self.metrics.commands_applied.labels(DELETE_HEARTBEAT).inc()
                item.finish(Settle.ACK, 200, {"status": "ok"}, "command")
            else:
                item.finish(Settle.ACK, 404, error_body(404, "not found"), "not-found")
            return
        heartbeat["receiveTime"] = now_ms()
        doc = await self.store.save_heartbeat(heartbeat)
        self.metrics.heartbeats_received.inc()
        body = heartbeat_body(doc, self.settings.rules.heartbeat_max_latency_ms)
        item.event = due_event(doc, heartbeat["receiveTime"], self.settings.ingest.heartbeat_watch_interval)
        item.finish(Settle.ACK, 201, {"status": "ok", "id": doc["_id"], "heartbeat": body}, "heartbeat")
