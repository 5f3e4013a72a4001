"""All database code: the PyMongo Async API behind one class.

Documents are stored in Alerta's shape (camelCase fields, ``_id`` = alert id) plus two internal fields that
are never shown to clients: ``severityCode`` (so sorting and counting by severity need no lookup) and
``_v``, a write token used for optimistic concurrency: every write of an alert replaces ``_v`` with a new
random token, conditional on the token it read. A writer that lost a race sees its write not applied and
re-reads; together with the unique index on the identity key this keeps N ingest workers from ever creating
two documents for one alert.

``expireTime`` (= ``lastReceiveTime`` + ``timeout``, null when the timeout is 0) is written with every alert so
that housekeeping finds the alerts to expire with an indexed range instead of computing it per document.
Every public method is timed into ``alertbus_store_operation_seconds{operation}`` when the Store has metrics.

Reads that answer a client carry ``maxTimeMS`` (``STORE_MAX_TIME_MS``), so that the store itself stops a query
that a filter made expensive; such a read raises ``QueryTimeout`` (``time_limited``), which HTTP answers with 503.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, DeleteOne, InsertOne, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError
from pymongo.errors import ConnectionFailure as _ConnectionFailure

from ..metrics import Metrics
from ..regexes import literal
from .heartbeats import LONG_AGO, WATCH_AT, WATCH_FLAG, WATCH_INDEX, ensure_heartbeat_key, heartbeat_deadline
from .identity import ensure_identity
from .slots import JournalSlots
from .timing import QueryTimeout as QueryTimeout
from .timing import time_limited as time_limited
from .timing import timed as timed

# Errors that mean "the database is not reachable right now": callers retry later instead of failing.
StoreUnavailable: tuple[type[BaseException], ...] = (_ConnectionFailure,)
StoreError = PyMongoError
INTERNAL_FIELDS = ("_v", "_rids", "_keys", "severityCode", "expireTime", "_notes")  # _notes: shared/notes.py
DUPLICATE_KEY = 11000
# Indexes of earlier versions: the id lookups now use the one multikey "lookup" index, the group loads "identity".
OBSOLETE_INDEXES = frozenset({"group", "lastReceiveId", "shortId", "shortLastReceiveId"})


def now_ms() -> datetime:
    """The current UTC time truncated to milliseconds, the precision the database keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_token() -> str:
    return uuid.uuid4().hex


def expire_time(doc: dict[str, Any]) -> datetime | None:
    """When housekeeping expires the alert: ``lastReceiveTime`` + ``timeout`` (never for a timeout of 0)."""
    timeout, received = doc.get("timeout") or 0, doc.get("lastReceiveTime")
    return received + timedelta(seconds=timeout) if timeout > 0 and isinstance(received, datetime) else None


@dataclass
class AlertWrite:
    """One alert document to write: an insert when ``expected`` is None, else a replace (or, with ``delete``,
    a delete) of the version whose token is ``expected`` ("" for a document written by something that set
    no token)."""

    doc: dict[str, Any]
    expected: str | None
    delete: bool = False


LOOKUP_CANDIDATES = 10  # alerts read for one id lookup (more than one only when short ids collide)
SHORT_ID = 8  # Alerta's short ids: the first 8 characters of an id


def lookup_keys(doc: dict[str, Any]) -> list[str]:
    """Every string an alert is found by: its id, the id of the last alert received for it, and the short
    (8-character) forms of both. One multikey index on this list serves every id lookup, where three single
    indexes (``lastReceiveId`` and the two short forms) cost three index updates on every write."""
    ident, last = doc["_id"], doc.get("lastReceiveId") or doc["_id"]
    return list(dict.fromkeys((ident, last, ident[:SHORT_ID], last[:SHORT_ID])))


def stored(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the derived fields every stored alert carries (lookup keys, expiry) to ``doc``; returns it."""
    doc["_keys"] = lookup_keys(doc)
    doc["expireTime"] = expire_time(doc)
    return doc


def _lookup_rank(doc: dict[str, Any], ident: str) -> int:
    """Alerta's order of id lookups: the id, then the last receive id, then a short form of either."""
    ident_of, last = doc["_id"], doc.get("lastReceiveId") or ""
    ranks = (ident_of == ident, last == ident, ident_of[:SHORT_ID] == ident, last[:SHORT_ID] == ident)
    return next((rank for rank, hit in enumerate(ranks) if hit), len(ranks))


class Store:
    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str, metrics: Metrics | None = None) -> None:
        self.client = client
        self.metrics = metrics
        self.db = client[database]
        self.alerts = self.db["alerts"]
        self.heartbeats = self.db["heartbeats"]
        self.journal_slots = JournalSlots()  # settled counter journals the next batch overwrites (batch.py)
        self.client_bulk: bool | None = None  # whether the server has bulkWrite (None: not known yet)
        self.write_turn = asyncio.Lock()  # one batch writes at a time (batch.py)

    @timed
    async def ping(self) -> None:
        await self.db.command("ping")

    @timed
    async def ensure_indexes(self) -> None:
        """Create the indexes the services rely on, and drop those earlier versions created that nothing uses
        any more (each one costs every write); idempotent, run by every service at start-up."""
        existing = await self.alerts.index_information()
        if OBSOLETE_INDEXES & existing.keys():  # a database of an earlier version: upgrade it once
            await self._add_lookup_keys()
            for name in OBSOLETE_INDEXES & existing.keys():
                await self.alerts.drop_index(name)
        await ensure_identity(self.alerts, existing)
        await self.alerts.create_index([("_keys", ASCENDING)], name="lookup")
        await self.alerts.create_index([("lastReceiveTime", DESCENDING)], name="lastReceiveTime")
        # Reads (services/query/reads.py): equality fields first, then the sort key. The list sorted by
        # severity or by recency within environment and status, and by severity within status alone (also the
        # default "not expired" list, written as status $in). The trailing ``severity`` makes the counts
        # (grouped by severity name and status) answerable from the index alone on MongoDB.
        await self.alerts.create_index(
            [("environment", ASCENDING), ("status", ASCENDING), ("severityCode", ASCENDING),
             ("lastReceiveTime", DESCENDING), ("severity", ASCENDING)], name="by_environment_status_severity",
        )
        await self.alerts.create_index(
            [("environment", ASCENDING), ("status", ASCENDING), ("lastReceiveTime", DESCENDING)],
            name="by_environment_status_time",
        )
        await self.alerts.create_index(
            [("status", ASCENDING), ("severityCode", ASCENDING), ("lastReceiveTime", DESCENDING),
             ("severity", ASCENDING)], name="by_status_severity",
        )
        # Housekeeping (shared/store/housekeeping.py): the alerts to expire by status and expireTime, those to
        # delete by status and lastReceiveTime (one equality per status: SecantusDB scans a collection for $in
        # on a non-leading field, and without the second index it reads every closed alert on each run).
        await self.alerts.create_index([("status", ASCENDING), ("expireTime", ASCENDING)], name="housekeeping_expire")
        await self.alerts.create_index(
            [("status", ASCENDING), ("lastReceiveTime", ASCENDING)], name="housekeeping_delete",
        )
        await ensure_heartbeat_key(self.heartbeats)  # unique (origin, customer); an earlier version's dropped
        if WATCH_INDEX not in await self.heartbeats.index_information():  # heartbeats of an earlier version: due
            await self.heartbeats.update_many({WATCH_AT: {"$exists": False}}, {"$set": {WATCH_AT: LONG_AGO}})
            await self.heartbeats.create_index([(WATCH_AT, ASCENDING)], name=WATCH_INDEX)

    async def _add_lookup_keys(self, chunk: int = 1000) -> None:
        """Give the alerts of an earlier version their lookup keys (their token stays: content unchanged)."""
        missing = self.alerts.find({"_keys": {"$exists": False}}, {"lastReceiveId": 1})
        updates: list[UpdateOne] = []
        async for doc in missing:
            updates.append(UpdateOne({"_id": doc["_id"]}, {"$set": {"_keys": lookup_keys(doc)}}))
            if len(updates) >= chunk:
                await self.alerts.bulk_write(updates, ordered=False)
                updates = []
        if updates:
            await self.alerts.bulk_write(updates, ordered=False)

    # -- alerts: the ingest write path ------------------------------------------------------------

    @timed
    async def load_groups(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Every stored alert of the given (environment, resource) groups, in one query."""
        keys = list(dict.fromkeys(keys))
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in keys}
        if not keys:
            return groups
        # One query per environment on the identity index (equality on its first field, $in on the second).
        # SecantusDB workaround: it answers an $or of (environment, resource) pairs with a collection scan
        # (20 s for 200 pairs over 20,000 alerts); an equality then an $in, as here, takes 33 ms for 200 groups.
        by_environment: dict[str, set[str]] = {}
        for environment, resource in keys:
            by_environment.setdefault(environment, set()).add(resource)
        for environment, resources in sorted(by_environment.items()):
            query = {"environment": environment, "resource": {"$in": sorted(resources)}}
            async for doc in self.alerts.find(query):
                key = (doc["environment"], doc["resource"])
                if key in groups:
                    groups[key].append(doc)
        return groups

    @timed
    async def write_alerts(self, writes: list[AlertWrite]) -> set[str]:
        """Write a batch in one round-trip; returns the ids whose write lost a race (to be re-applied).

        Each written document gets a new ``_v`` token. An insert that hits the identity index, or a
        replace whose expected token no longer matches, is a conflict; nothing else is.
        """
        if not writes:
            return set()
        ops: list[InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]] | DeleteOne] = []
        for write in writes:
            if not write.delete:
                stored(write.doc)
            if write.expected is None:
                write.doc["_v"] = new_token()
                ops.append(InsertOne(write.doc))
                continue
            match = {"_id": write.doc["_id"], "_v": write.expected or {"$exists": False}}
            if write.delete:
                ops.append(DeleteOne(match))
            else:
                write.doc["_v"] = new_token()
                ops.append(ReplaceOne(match, write.doc))
        conflicts: set[str] = set()
        replaces = sum(1 for w in writes if w.expected is not None and not w.delete)
        deletes = sum(1 for w in writes if w.delete)
        try:
            result = await self.alerts.bulk_write(ops, ordered=False)
            matched, deleted = result.matched_count, result.deleted_count
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                if error.get("code") != DUPLICATE_KEY:
                    raise
                conflicts.add(writes[error["index"]].doc["_id"])
            matched, deleted = exc.details.get("nMatched", 0), exc.details.get("nRemoved", 0)
        if matched < replaces or deleted < deletes:
            conflicts |= await self.lost_writes(writes)
        return conflicts

    async def lost_writes(self, writes: list[AlertWrite]) -> set[str]:
        """Which conditional writes did not apply: a replace whose token is not ours, a delete whose
        document is still there (with another token)."""
        checked = [w for w in writes if w.expected is not None]
        found = {
            doc["_id"]: doc.get("_v")
            async for doc in self.alerts.find({"_id": {"$in": [w.doc["_id"] for w in checked]}}, {"_v": 1})
        }
        lost = set()
        for write in checked:
            ident = write.doc["_id"]
            if (write.delete and ident in found) or (not write.delete and found.get(ident) != write.doc["_v"]):
                lost.add(ident)
        return lost

    # -- alerts: reads ----------------------------------------------------------------------------

    @timed
    @time_limited
    async def get_alert(self, ident: str, *, max_time_ms: int | None = None, fields: list[str] | None = None,
                        customers: frozenset[str] = frozenset()) -> dict[str, Any] | None:
        """Alerta's id lookup: the id, the id of the last alert received for it, or — for an 8-character id
        — a prefix of either; one indexed equality on the lookup keys (see ``lookup_keys``). ``fields``: only
        these (and what the lookup ranks by) are read. ``customers``: only their alerts (empty: any)."""
        projection = None if fields is None else [*fields, "lastReceiveId", "customer"]
        cursor = self.alerts.find({"_keys": ident}, projection, max_time_ms=max_time_ms).limit(LOOKUP_CANDIDATES)
        found = [doc for doc in await cursor.to_list(None) if not customers or doc.get("customer") in customers]
        return min(found, key=lambda doc: _lookup_rank(doc, ident), default=None)

    # -- heartbeats -------------------------------------------------------------------------------

    @timed
    async def save_heartbeat(self, heartbeat: dict[str, Any]) -> dict[str, Any]:
        """Upsert by origin and customer; the first id is kept. Sets when the heartbeat watch must look at it next
        (shared/store/heartbeats.py): at its deadline, or at once when the watch flagged it failing."""
        fields = {key: heartbeat.get(key) for key in ("origin", "tags", "attributes", "createTime", "timeout",
                                                      "customer")}
        received = heartbeat["receiveTime"]
        fields.update(type="Heartbeat", receiveTime=received)
        fields[WATCH_AT] = heartbeat_deadline(received, heartbeat["timeout"])
        for _ in range(3):
            try:
                doc = await self.heartbeats.find_one_and_update(
                    {"origin": heartbeat["origin"], "customer": fields["customer"]},
                    {"$set": fields, "$setOnInsert": {"_id": heartbeat["id"]}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
                if doc is not None and doc.get(WATCH_FLAG):  # the watch closes the failure at once
                    await self.heartbeats.update_one({"_id": doc["_id"], "receiveTime": received},
                                                     {"$set": {WATCH_AT: received}})
                    doc[WATCH_AT] = received
                if doc is not None:  # always, with upsert and ReturnDocument.AFTER
                    return dict(doc)
            except DuplicateKeyError:
                pass  # two first heartbeats of one origin and customer raced: the other one's id wins, update it
        raise RuntimeError(f"heartbeat upsert for origin {heartbeat['origin']!r} kept conflicting")

    @timed
    async def delete_heartbeat(self, ident: str, customers: list[str] | None = None) -> bool:  # None: any customer
        query: dict[str, Any] = {"_id": ident} if customers is None else {"_id": ident, "customer": {"$in": customers}}
        result = await self.heartbeats.delete_one(query)
        return result.deleted_count == 1

    @timed
    @time_limited
    async def get_heartbeat(self, ident: str, *, max_time_ms: int | None = None) -> dict[str, Any] | None:
        query: Any = {"$regex": "^" + literal(ident)} if len(ident) == 8 else ident
        return await self.heartbeats.find_one({"_id": query}, max_time_ms=max_time_ms)
