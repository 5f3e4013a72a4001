"""The ingest write path's unit of work: a batch's alert writes and their counter journal, planned in memory and
sent in the fewest store commands.

**Commands per batch** (``python -m bench.commands`` counts them with a PyMongo command listener;
tests/test_batch_commands.py guards the count), for 1, 10 or 100 alerts alike:

* **2** on a server with the ``bulkWrite`` command (MongoDB 8.0 and later, SecantusDB): the group read
  (``Store.load_groups``: one ``find`` per environment in the batch) and **one ordered** ``bulkWrite`` that holds
  the journal, the counter updates, the redelivery markers and the alert inserts, replaces and deletes;
* **1** when the worker knows every group of the batch from its own last writes (duplicates of alerts it just
  wrote: group_cache.py): the ``bulkWrite`` alone;
* **3** (2 for known groups) on older servers (MongoDB 7): the read, one ``update`` of the counters with the
  journal, and the alert ``bulk_write`` (one command per kind of write it holds: insert, update, delete);
* one more only when something did not land: a write that lost a race or failed (its counter updates are taken
  back at once), a delete that found nothing to delete (a read of the tokens tells why).

**One batch writes at a time** per worker (``Store.write_turn``, a FIFO lock): the worker's lanes overlap one
batch's preparation (decode, validation, the group read, the plan) with another's write, but not two writes. Two
writes at once only shared the store between them (SecantusDB, 2 lanes, measured with ``python -m bench.burst
--pause-ingest`` and the 201 path, interleaved: drain 1,097 and 1,113 alerts/s in turn against 925 and 909 at
once, 201 path 293 and 274/s against 198 and 267/s, p99 172 and 191 ms against 264 and 211).

Before this module: 4 in every case (the read, the journal with the counters, the alert write, the journal's
delete), serially.

**Crash safety** is the counters journal's (counters.py), unchanged in substance: in the one command the journal
comes first and the command is *ordered*, so an alert write that landed always has its journal and counter updates
before it; a store or a worker that dies in the middle leaves a prefix, as the two commands did before. What
changed is how a journal ends: instead of a delete after every batch, a batch whose writes are all decided (landed,
or lost and taken back) leaves its journal document as a *slot* (``Store.journal_slots``), which the next batch of
the worker overwrites (``$set``) in its own command, or that is deleted once it stayed unused for a few seconds
(slots.py says why). A batch in flight owns its slot alone (one per batch: the lanes of a worker overlap). A journal
whose batch failed or was cut short is never taken again: recovery decides it as before. Each journal carries a
token ``t``, and recovery's changes to a journal are conditional on it, so that recovery of a settled slot (all
landed: recovery just drops it) never removes or edits a slot a batch took meanwhile.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pymongo import DeleteOne, InsertOne, UpdateOne
from pymongo.errors import ClientBulkWriteException, InvalidOperation, OperationFailure

from .core import DUPLICATE_KEY, AlertWrite, Store, new_token, now_ms, stored, timed
from .counter_keys import JournalEntry, counter_id, entry_changes
from .counters import JOURNAL, Counters, marker_updates

Model = InsertOne[dict[str, Any]] | UpdateOne | DeleteOne


class CounterWriteFailed(RuntimeError):
    """A counter update of the batch's command failed: none of its alert writes ran."""


@dataclass
class Outcome:
    """What did not land: ``conflicts`` lost a race (re-applied from a fresh read), ``failed`` were refused by
    the store for another reason (their messages are tried alone). Every other write landed."""

    conflicts: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Op:
    """One write of the command; ``write``: the index of the alert write it is (None: a counter update)."""

    kind: str  # insert, update, replace, delete
    target: dict[str, Any]  # the document (insert) or the filter
    doc: dict[str, Any] | None = None  # the update or the replacement
    upsert: bool = False
    write: int | None = None

    def model(self, namespace: str | None) -> Model:
        spec: Any = {} if namespace is None else {"namespace": namespace}
        if self.kind == "insert":
            return InsertOne(self.target, **spec)
        if self.kind == "delete":
            return DeleteOne(self.target, **spec)
        if self.kind == "replace":  # target: {_id, _v} as in a filter; sent as a swap (below)
            return UpdateOne({"_id": self.target["_id"]}, swap(self.target["_v"], self.doc or {}), **spec)
        return UpdateOne(self.target, self.doc or {}, upsert=self.upsert, **spec)


def swap(expected: str | dict[str, Any], doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The update that replaces an alert by ``doc`` only while its version token is still ``expected`` (``{"$exists":
    False}``: a document written without one), to be sent with a filter on ``_id`` alone. The write applied when
    the result's *modified* count is 1: ``doc`` always carries a new token, so it always differs from the stored one.

    Why not a replace filtered on ``{_id, _v}``, which means the same: SecantusDB looks a document up by ``_id``
    directly only when the filter has no other field; any other filter is planned through every index first, and
    that planning cost more than the write (``python -m bench.store_ops``: 2.3 ms of store CPU per conditional
    replace, 1.3 ms for a replace by ``_id`` alone). The condition inside the update costs a fraction of that. On
    MongoDB both forms are one lookup in the ``_id`` index. ``$literal``: the document's strings are data, never
    field paths or operators."""
    same = {"$eq": ["$_v", expected]} if isinstance(expected, str) else {"$eq": [{"$type": "$_v"}, "missing"]}
    return [{"$replaceWith": {"$cond": [same, {"$literal": doc}, "$$ROOT"]}}]


def journal_ops(journal: str, token: str, entries: list[JournalEntry]) -> list[_Op]:
    """The journal (first: a ``$set`` that takes over a slot whole), the counter updates and the markers; none
    when the writes change no counter and no message was marked."""
    changes = entry_changes(entries)
    marked = [rid for entry in entries for rid in entry.marked]
    if changes.empty() and not marked:
        return []
    record = {"kind": JOURNAL, "at": now_ms(), "t": token, "writes": [entry.dump() for entry in entries]}
    updates = [*changes.updates(), *marker_updates(marked, +1)]
    return [_Op("update", {"_id": journal}, {"$set": record}, upsert=True),
            *(_Op("update", {"_id": ident}, update, upsert=upsert) for ident, update, upsert in updates)]


def alert_ops(writes: list[AlertWrite]) -> list[_Op]:
    """The alert writes, each conditional on the token its document was read with (core.py), with new tokens."""
    ops = []
    for index, write in enumerate(writes):
        if not write.delete:
            stored(write.doc)
        if write.expected is None:
            write.doc["_v"] = new_token()
            ops.append(_Op("insert", write.doc, write=index))
            continue
        match = {"_id": write.doc["_id"], "_v": write.expected or {"$exists": False}}
        if write.delete:
            ops.append(_Op("delete", match, write=index))
        else:
            write.doc["_v"] = new_token()
            ops.append(_Op("replace", match, write.doc, write=index))
    return ops


def _details(error: Any) -> dict[str, Any]:
    """A write error as a dict (PyMongo gives the server's document; typed as ``WriteError``)."""
    return dict(error.details or {}) if isinstance(error, OperationFailure) else dict(error)


class BatchWriter:
    """Writes one batch (``write``); built per batch on the worker's ``Store``, whose journal slots it shares."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.metrics = store.metrics
        self.counters = Counters(store)

    @timed
    async def write_batch(self, writes: list[AlertWrite], entries: list[JournalEntry]) -> Outcome:
        """Journal, counters and alert writes; see the module doc. Raises when the store is unavailable or the
        command failed as a whole: the journal then stays for recovery."""
        if not writes:
            return Outcome()
        async with self.store.write_turn:  # the worker's batches write one at a time, in the order they got here
            return await self._write_batch(writes, entries)

    async def _write_batch(self, writes: list[AlertWrite], entries: list[JournalEntry]) -> Outcome:
        slots, collection = self.store.journal_slots, self.counters.counters
        journal, settled = slots.take() or (counter_id(JOURNAL, uuid.uuid4().hex), "")
        token = new_token()
        counted = journal_ops(journal, token, entries)
        if not counted and settled:
            slots.give_back(journal, settled, collection)  # not written by this batch: still a settled slot
        outcome = await self._write(counted, writes)
        undone = outcome.conflicts | outcome.failed
        lost = [entry for entry in entries if entry.alert_id in undone]
        if counted:
            if lost:
                kept = [entry.dump() for entry in entries if entry.alert_id not in undone]
                await self.counters.take_back(journal, token, lost, kept)
            slots.give_back(journal, token, collection)  # every write decided: the next batch may take it over
        return outcome

    async def _write(self, counted: list[_Op], writes: list[AlertWrite]) -> Outcome:
        ops = [*counted, *alert_ops(writes)]
        if self.store.client_bulk is not False:
            try:
                return await self._single_command(ops, writes)
            except InvalidOperation as exc:  # MongoDB before 8.0: no bulkWrite command; nothing was sent
                if "8.0" not in str(exc):
                    raise
                self.store.client_bulk = False
        if counted:
            await self.counters.counters.bulk_write([op.model(None) for op in counted], ordered=True)
        return Outcome(await self.store.write_alerts(writes))

    async def _single_command(self, ops: list[_Op], writes: list[AlertWrite]) -> Outcome:
        """One ordered ``bulkWrite`` across the counters and the alerts. A write error stops an ordered command: an
        insert that hit the identity index is a conflict, any other error of an alert write fails that write alone,
        and the writes after it are sent again (another command, only then)."""
        db = self.store.db.name
        namespaces = {True: f"{db}.{self.store.alerts.name}", False: f"{db}.{self.counters.counters.name}"}
        outcome, unmatched = Outcome(), []
        start = 0
        while start < len(ops):
            models = [op.model(namespaces[op.write is not None]) for op in ops[start:]]
            error: dict[str, Any] | None = None
            try:
                result = await self.store.client.bulk_write(models, ordered=True, verbose_results=True)
            except ClientBulkWriteException as exc:
                if isinstance(exc.error, BaseException):  # the command failed as a whole (the store went away)
                    raise exc.error from exc
                if exc.partial_result is None or not exc.write_errors:
                    raise
                result, error = exc.partial_result, _details(exc.write_errors[0])
            for offset, op in enumerate(ops[start:]):
                if op.write is None or (error is not None and offset >= error["idx"]):
                    continue
                doc_id = writes[op.write].doc["_id"]
                if op.kind == "replace" and result.update_results[offset].modified_count != 1:
                    outcome.conflicts.add(doc_id)  # the token changed since the read (swap): another writer won
                elif op.kind == "delete" and result.delete_results[offset].deleted_count != 1:
                    unmatched.append(writes[op.write])
            if error is None:
                break
            failed = ops[start + error["idx"]]
            if failed.write is None:
                raise CounterWriteFailed(f"a counter update failed: {error.get('errmsg', error)!r:.300}")
            doc_id = writes[failed.write].doc["_id"]
            (outcome.conflicts if error.get("code") == DUPLICATE_KEY else outcome.failed).add(doc_id)
            start += error["idx"] + 1
        if unmatched:  # a delete whose document is gone already is no conflict; one with another token is
            outcome.conflicts |= await self.store.lost_writes(unmatched)
        return outcome
