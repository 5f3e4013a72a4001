"""Apply the alerts and commands of a batch to their (environment, resource) groups: one read, one bulk write.

Every message ends in exactly one ``Settle`` decision, mapped to ack / reject / requeue in one place (the
worker's ``Settler``, settle.py):

* ``ACK`` — applied, or answered definitively (policy refusal, unknown alert, invalid transition);
* ``DEAD`` — can never be applied (not JSON, invalid body): rejected without requeue → dead-letter queue;
* ``RETRY`` — failed unexpectedly: requeued, dead-lettered on the last of ``MAX_DELIVERIES`` tries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

from shared import commands, notes, rules
from shared.broker import ALERT
from shared.metrics import Metrics
from shared.render import alert_body
from shared.severity import InvalidTransition
from shared.store import AlertWrite, Store, now_ms
from shared.store.batch import BatchWriter
from shared.store.counter_keys import Footprint, JournalEntry
from shared.store.group_cache import GroupCache

from .attempted import Attempted as Attempted

RECENT_IDS = 100  # receive ids remembered per alert, so that a redelivered message is not applied twice
REREAD = "reread"  # an item applied again in the next round, after a fresh read of its group


class Settle(Enum):
    ACK = "ack"
    DEAD = "dead"
    RETRY = "retry"


def error_body(code: int, message: str, errors: Any = None) -> dict[str, Any]:
    return {"status": "error", "message": message, "code": code, "errors": errors}


@dataclass
class Item:
    message: AbstractIncomingMessage
    kind: str
    payload: dict[str, Any] | None = None
    settle: Settle | None = None
    reply: tuple[int, dict[str, Any]] | None = None
    reason: str = ""
    event: dict[str, Any] | None = None  # published to alertbus.events once the write landed

    @property
    def op(self) -> str | None:
        return self.payload.get("op") if self.payload else None

    @property
    def receive_id(self) -> str:
        assert self.payload is not None
        return str(self.payload["id"] if self.kind == ALERT else self.payload["receiveId"])

    def finish(self, settle: Settle, code: int, body: dict[str, Any], reason: str = "") -> None:
        self.settle, self.reply, self.reason = settle, (code, body), reason


@dataclass
class _Group:
    docs: list[dict[str, Any]]
    cached: bool = False  # known from the worker's memory, not read (shared/store/group_cache.py)
    expected: dict[str, str | None] = field(default_factory=dict)  # doc id -> token read (None: new)
    deleted: set[str] = field(default_factory=set)
    stale: bool = False  # a command found its memory doubtful: the rest of the group waits for a fresh read

    def find(self, doc_id: str) -> dict[str, Any] | None:
        return next((d for d in self.docs if d["_id"] == doc_id), None)

    def replace(self, doc: dict[str, Any]) -> None:
        for index, existing in enumerate(self.docs):
            if existing["_id"] == doc["_id"]:
                self.expected.setdefault(doc["_id"], existing.get("_v", ""))
                self.docs[index] = doc
                return
        self.expected.setdefault(doc["_id"], None)
        self.docs.append(doc)

    def delete(self, doc: dict[str, Any]) -> None:
        self.docs.remove(doc)
        if self.expected.get(doc["_id"], "") is None:  # created in this batch: nothing to write at all
            del self.expected[doc["_id"]]
            return
        self.expected.setdefault(doc["_id"], doc.get("_v", ""))
        self.deleted.add(doc["_id"])

    def writes(self) -> list[AlertWrite]:
        out = [AlertWrite(d, self.expected[d["_id"]]) for d in self.docs if d["_id"] in self.expected]
        out += [AlertWrite({"_id": i}, self.expected[i], delete=True) for i in self.deleted]
        return out


@dataclass
class _Applied:
    item: Item
    doc_id: str
    outcome: str
    doc: dict[str, Any] | None = None  # the document after (None once deleted)
    before: dict[str, Any] | None = None  # ... and before (None for a new alert)

    def event(self) -> dict[str, Any] | None:
        """What changed, for the notification feed: a new alert, a severity or status change, a delete; any
        other change (a duplicate, tags, attributes, a note) is ``updated``, published under a key of its own
        (shared/broker.py ``UPDATED_KEY``) so that notifiers bound to ``alert.#`` never see it: the console's
        live list shows it."""
        if self.outcome == "redelivered":
            return None
        after, before = self.doc, self.before
        if after is None:
            kind = "deleted"
        elif before is None:
            kind = "created"
        elif after["severity"] != before["severity"]:
            kind = "severity"
        elif after["status"] != before["status"]:
            kind = "status"
        else:
            kind = "updated"
        return {"event": kind, "alert": alert_body(after or before or {}, history=False)}


def _remember(doc: dict[str, Any], receive_id: str) -> None:
    doc["_rids"] = [*doc.get("_rids", ()), receive_id][-RECENT_IDS:]


def _receive(item: Item, group: _Group, now: Any, limit: int) -> _Applied:
    alert = item.payload
    assert alert is not None
    seen = next((d for d in group.docs if alert["id"] in d.get("_rids", ())), None)
    if seen is not None:  # a redelivery of a message whose write already landed
        return _Applied(item, seen["_id"], "redelivered", seen)
    outcome, doc = rules.receive(group.docs, alert, now, limit)
    before = group.find(doc["_id"])
    _remember(doc, alert["id"])
    group.replace(doc)
    return _Applied(item, doc["_id"], outcome, doc, before)


def _command(item: Item, group: _Group, now: Any, limit: int) -> _Applied | None:
    cmd = item.payload
    assert cmd is not None
    doc = group.find(cmd["id"])
    if group.cached and (doc is None or not commands.guard_holds(doc, cmd)):
        # The sender saw the alert otherwise than the worker's memory has it (it is read by the gateway or
        # housekeeping just before): never answer 404 or 412 from memory; read the group, then decide.
        group.stale = True
        return _Applied(item, "", REREAD)
    if doc is None or not commands.for_customers(doc, cmd):
        item.finish(Settle.ACK, 404, error_body(404, "not found"), "not-found")
        return None
    if cmd["receiveId"] in doc.get("_rids", ()):
        return _Applied(item, doc["_id"], "redelivered", doc)  # the doc: a note's answer is read from it
    if not commands.guard_holds(doc, cmd):  # the alert changed since a guarded command was sent: skip it
        item.finish(Settle.ACK, 412, error_body(412, "precondition failed: the alert changed since"), "guard")
        return None
    if cmd["op"] == commands.DELETE:
        group.delete(doc)
        return _Applied(item, doc["_id"], "command", None, doc)
    try:
        new = (notes.apply if cmd["op"] in commands.NOTE_OPERATIONS else commands.apply)(doc, cmd, now, limit)
    except InvalidTransition as exc:
        item.finish(Settle.ACK, 409, error_body(409, str(exc)), "invalid-transition")
        return None
    except notes.Refused as exc:  # the note is not there, or the notes would cross a bound
        item.finish(Settle.ACK, exc.code, error_body(exc.code, exc.message), "refused")
        return None
    _remember(new, cmd["receiveId"])
    group.replace(new)
    return _Applied(item, new["_id"], "command", new, doc)


def _journal(writes: list[AlertWrite], loaded: dict[str, Footprint], applied: list[_Applied],
             attempted: Attempted) -> list[JournalEntry]:
    """What each alert write changes in the counters, with the receive ids it applies (``marked``: those of
    redelivered messages and of messages ``attempted`` before, which recovery needs to tell a landed write from
    its re-application)."""
    rids: dict[str, list[str]] = {}
    marked: dict[str, list[str]] = {}
    for done in applied:
        if done.outcome not in ("redelivered", REREAD):
            rids.setdefault(done.doc_id, []).append(done.item.receive_id)
            if done.item.message.redelivered or done.item.receive_id in attempted:
                marked.setdefault(done.doc_id, []).append(done.item.receive_id)
    entries = []
    for write in writes:
        ident = write.doc["_id"]
        before = loaded.get(ident) if write.expected is not None else None
        after = None if write.delete else Footprint.of(write.doc)
        if before != after or ident in marked:
            entries.append(JournalEntry(ident, tuple(rids.get(ident, ())), tuple(marked.get(ident, ())), before, after))
    return entries


def _group_key(item: Item) -> tuple[str, str]:
    assert item.payload is not None
    return rules.group_key(item.payload["environment"], item.payload["resource"])


async def _load(store: Store, keys: list[tuple[str, str]], cache: GroupCache) -> dict[tuple[str, str], _Group]:
    """The groups of ``keys``: those the worker knows from memory, the others in one read (none when it knows
    them all: shared/store/group_cache.py)."""
    known = cache.take(dict.fromkeys(keys))
    missing = [key for key in dict.fromkeys(keys) if key not in known]
    read = await store.load_groups(missing) if missing else {}
    return {**{key: _Group(docs) for key, docs in read.items()},
            **{key: _Group(docs, cached=True) for key, docs in known.items()}}


def _settled(groups: dict[tuple[str, str], _Group], undone: set[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The groups as stored now: every write of theirs landed."""
    return {key: group.docs for key, group in groups.items() if not group.stale
            and not undone.intersection(group.expected) and not undone.intersection(d["_id"] for d in group.docs)}


async def apply_groups(store: Store, items: list[Item], history_limit: int, metrics: Metrics,
                       attempted: Attempted, cache: GroupCache) -> tuple[list[Item], list[Item]]:
    """Apply alerts and commands in arrival order. Returns the items whose write lost a race (to re-apply) and
    those whose write the store refused (to try alone); every other item is finished, with its real outcome.
    ``attempted``: the worker's record of messages whose counters were journalled by a batch that failed;
    ``cache``: the groups it knows (emptied here when anything fails)."""
    keys = [_group_key(item) for item in items]
    epoch = cache.epoch
    try:
        groups = await _load(store, keys, cache)
    except BaseException:
        cache.clear()
        raise
    loaded = {doc["_id"]: Footprint.of(doc) for group in groups.values() for doc in group.docs}
    now = now_ms()
    applied: list[_Applied] = []
    for item, key in zip(items, keys, strict=True):
        group = groups[key]
        if group.stale:  # in order: behind a command that waits for the fresh read
            applied.append(_Applied(item, "", REREAD))
        elif item.kind == ALERT:
            applied.append(_receive(item, group, now, history_limit))
        elif (result := _command(item, group, now, history_limit)) is not None:
            applied.append(result)
    writes = [w for group in groups.values() for w in group.writes()]
    # The journal and counter updates go first, in the same command as the alert writes (shared/store/batch.py),
    # so that a crash in between is recoverable; the updates of writes that did not land are taken back at once.
    journal = _journal(writes, loaded, applied, attempted)
    try:
        outcome = await BatchWriter(store).write_batch(writes, journal)
    except BaseException:
        cache.clear()
        attempted.add(rid for entry in journal for rid in entry.rids)
        raise
    cache.keep(_settled(groups, outcome.conflicts | outcome.failed), epoch)
    failed = [done.item for done in applied if done.doc_id in outcome.failed]
    return _answer(applied, outcome.conflicts, outcome.failed, metrics), failed


def _answer(applied: list[_Applied], conflicts: set[str], refused: set[str], metrics: Metrics) -> list[Item]:
    """Finish every item whose write landed, with its outcome; returns those whose write lost a race."""
    retry: list[Item] = []
    for done in applied:
        if done.doc_id in conflicts or done.outcome == REREAD:
            retry.append(done.item)
            continue
        if done.doc_id in refused:
            continue
        done.item.event = done.event()
        if done.outcome == "redelivered":  # already applied: answered again, written and counted never twice
            metrics.redelivered_skipped.inc()
        elif done.item.kind == ALERT:
            metrics.alerts_received.labels(done.outcome).inc()
        else:
            metrics.commands_applied.labels(done.item.op or "").inc()
        if done.item.kind == ALERT:
            assert done.doc is not None
            body = {"status": "ok", "id": done.doc["_id"], "alert": alert_body(done.doc)}
            done.item.finish(Settle.ACK, 201, body, done.outcome)
        else:
            assert done.item.payload is not None
            code, body = notes.answer(done.item.payload, done.doc)
            done.item.finish(Settle.ACK, code, body, done.outcome)
    if conflicts:
        metrics.write_conflicts.inc(len(conflicts))
    return retry
