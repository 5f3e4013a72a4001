"""Apply a batch of ingest messages: decode, pre-receive policy, reception rules, one bulk write.

Every message ends in exactly one ``Settle`` decision, mapped to ack / reject / requeue in one place
(``Item.settlement``):

* ``ACK`` — applied (or refused by policy, which is a definitive answer);
* ``DEAD`` — can never be applied (not JSON, invalid body): rejected without requeue → dead-letter queue;
* ``RETRY`` — failed unexpectedly: requeued; the broker's ``x-delivery-limit`` dead-letters it after
  ``MAX_DELIVERIES`` tries.
"""

from __future__ import annotations

import logging
import socket
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from shared import rules
from shared.broker import ALERT, HEARTBEAT
from shared.metrics import Metrics
from shared.render import alert_body, heartbeat_body
from shared.schemas import ALERT_SCHEMA, HEARTBEAT_SCHEMA, BadInput, load_body, parse_json
from shared.settings import Settings
from shared.store import AlertWrite, Store, StoreUnavailable, now_ms

log = logging.getLogger("alertbus.ingest")
MAX_CONFLICT_ROUNDS = 5
RECENT_IDS = 100  # receive ids remembered per alert, so that a redelivered message is not counted twice
DEFAULT_ORIGIN = f"alertbus/{socket.gethostname()}"


class Settle(Enum):
    ACK = "ack"
    DEAD = "dead"
    RETRY = "retry"


@dataclass
class Item:
    message: AbstractIncomingMessage
    kind: str
    payload: dict[str, Any] | None = None
    settle: Settle | None = None
    reply: tuple[int, dict[str, Any]] | None = None
    reason: str = ""

    def finish(self, settle: Settle, code: int, body: dict[str, Any], reason: str = "") -> None:
        self.settle, self.reply, self.reason = settle, (code, body), reason


def error_body(code: int, message: str, errors: Any = None) -> dict[str, Any]:
    return {"status": "error", "message": message, "code": code, "errors": errors}


@dataclass
class _Group:
    docs: list[dict[str, Any]]
    expected: dict[str, str | None] = field(default_factory=dict)  # doc id -> token read (None: new)
    items: dict[str, list[Item]] = field(default_factory=dict)  # doc id -> items applied to it


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
        if kind not in (ALERT, HEARTBEAT):
            item.finish(Settle.DEAD, 400, error_body(400, f"unknown message type {kind!r}"), "invalid")
            return item
        try:
            payload = load_body(ALERT_SCHEMA if kind == ALERT else HEARTBEAT_SCHEMA, parse_json(message.body))
        except BadInput as exc:
            item.finish(Settle.DEAD, 400, error_body(400, exc.message, exc.errors), "invalid")
            return item
        ident = message.message_id or ""
        payload["id"] = ident if 0 < len(ident) <= 128 else str(uuid.uuid4())
        payload["user"] = (message.headers or {}).get("user")
        payload["createTime"] = payload["createTime"] or now_ms()
        if payload["timeout"] is None:
            default = self.settings.alert_timeout if kind == ALERT else self.settings.heartbeat_timeout
            payload["timeout"] = default
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
        alerts = [item for item in items if item.kind == ALERT]
        for item in (item for item in items if item.kind == HEARTBEAT):
            await self._apply_heartbeat(item)
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not alerts:
                return
            alerts = await self._apply_alerts(alerts)
        for item in alerts:
            item.finish(Settle.RETRY, 503, error_body(503, "the alert kept conflicting; retried later"), "conflict")

    async def _apply_alerts(self, items: list[Item]) -> list[Item]:
        """One read and one bulk write for the batch; returns the items whose write lost a race."""
        keys = [rules.group_key(i.payload["environment"], i.payload["resource"]) for i in items]  # type: ignore[index]
        loaded = await self.store.load_groups(keys)
        groups = {key: _Group(docs) for key, docs in loaded.items()}
        now = now_ms()
        applied: list[tuple[Item, _Group, str, str]] = []
        for item, key in zip(items, keys, strict=True):
            alert = item.payload
            assert alert is not None
            group = groups[key]
            seen = next((d for d in group.docs if alert["id"] in d.get("_rids", ())), None)
            if seen is not None:  # a redelivery of a message whose write already landed
                self.metrics.redelivered_skipped.inc()
                applied.append((item, group, seen["_id"], "redelivered"))
                continue
            outcome, doc = rules.receive(group.docs, alert, now, self.settings.history_limit)
            doc["_rids"] = (list(doc.get("_rids", ())) + [alert["id"]])[-RECENT_IDS:]
            self._replace(group, doc)
            group.items.setdefault(doc["_id"], []).append(item)
            applied.append((item, group, doc["_id"], outcome))
        writes = [
            AlertWrite(doc, group.expected[doc["_id"]])
            for group in groups.values() for doc in group.docs if doc["_id"] in group.expected
        ]
        conflicts = await self.store.write_alerts(writes)
        retry: list[Item] = []
        for item, group, doc_id, outcome in applied:
            if doc_id in conflicts:
                retry.append(item)
                continue
            doc = next(d for d in group.docs if d["_id"] == doc_id)
            if outcome != "redelivered":
                self.metrics.alerts_received.labels(outcome).inc()
            body = {"status": "ok", "id": doc["_id"], "alert": alert_body(doc)}
            item.finish(Settle.ACK, 201, body, outcome)
        if conflicts:
            self.metrics.write_conflicts.inc(len(conflicts))
        return retry

    @staticmethod
    def _replace(group: _Group, doc: dict[str, Any]) -> None:
        for index, existing in enumerate(group.docs):
            if existing["_id"] == doc["_id"]:
                group.expected.setdefault(doc["_id"], existing.get("_v", ""))
                group.docs[index] = doc
                return
        group.expected.setdefault(doc["_id"], None)
        group.docs.append(doc)

    async def _apply_heartbeat(self, item: Item) -> None:
        heartbeat = item.payload
        assert heartbeat is not None
        heartbeat["receiveTime"] = now_ms()
        doc = await self.store.save_heartbeat(heartbeat)
        self.metrics.heartbeats_received.inc()
        body = heartbeat_body(doc, self.settings.heartbeat_max_latency_ms)
        item.finish(Settle.ACK, 201, {"status": "ok", "id": doc["_id"], "heartbeat": body}, "heartbeat")
