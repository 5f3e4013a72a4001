"""Materialised counters: the counts of ``GET /alerts``, ``/alerts/count``, ``/environments`` and the default top 10,
kept up to date by the ingest worker on every alert write, so that reading them costs a few hundred small documents
instead of a scan of every matching alert (SecantusDB decodes each one: tens of seconds at a million).

What is counted is in ``counter_keys.py``, the matcher that applies a filter to a counter's key in
``counter_match.py``, the audit against an aggregation in ``counter_audit.py``.

**Crash safety.** A batch adds its counter updates *before* its alert writes, in one ordered command that also
writes a journal document ``{writes: [JournalEntry], t: token}`` first (``batch.py``: the alert writes ride in the
same command where the server has ``bulkWrite``); writes that lost a race are then taken back, and the journal stays
as a slot the worker's next batch overwrites. A worker killed in between leaves the journal, and ``recover`` (ingest
start-up, and every housekeeping run, for journals older than a grace period) takes back the updates of the writes
that did not land (``counter_keys.landed``). A redelivered message that is applied again bumps a *redelivery marker*
(its receive id) in the same command, which is how recovery tells "this write landed" from "the redelivery re-applied
it". A store that dies in the middle of one command can still leave the counters off (MongoDB applies each document
of a multi-document write atomically, not the command); ``rebuild`` (``POST /management/recount`` on the ingest
port) recomputes them from the alerts.

Every counter document is in the ``counters`` collection, with ``kind``: ``A``/``B``/``R`` (counters), ``journal``,
``marker`` and ``meta`` (the "built" marker: until it exists the readers fall back to aggregation).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne

from .core import Store, now_ms, time_limited, timed
from .counter_audit import audit
from .counter_keys import (
    DETAIL,
    EVENT,
    EVENT_FIELDS,
    FOOTPRINT_FIELDS,
    SEVERITY,
    SEVERITY_FIELDS,
    TOP_RESOURCES,
    Changes,
    Footprint,
    JournalEntry,
    as_writes,
    counter_id,
    entry_changes,
    event_rows,
    key_filter,
    landed,
    severity_rows,
    unescape_field,
)
from .counter_match import pushdown
from .leases import LeaseBusy, Leases

log = logging.getLogger("alertbus.counters")
JOURNAL, MARKER, META = "journal", "marker", "meta"
BUILT_ID = counter_id(META, "built")
LEASE = "counters"  # one recovery or rebuild at a time in the installation
JOURNAL_GRACE = 120.0  # seconds: a younger journal may belong to a batch still writing
HORIZON = 24 * 3600.0  # seconds redelivery markers are kept, and an undecided journal waits for its redelivery
WRITE_CHUNK = 1000  # counter updates per bulk write when rebuilding


def marker_id(rid: str) -> str:
    return counter_id(MARKER, rid)


def marker_updates(rids: Iterable[str], sign: int) -> list[tuple[str, dict[str, Any], bool]]:
    """``(counter _id, update, upsert)`` per redelivery marker, as ``Changes.updates`` gives counter updates."""
    now = now_ms()
    return [(marker_id(rid), {"$inc": {"n": sign}, "$set": {"at": now}, "$setOnInsert": {"kind": MARKER}}, True)
            for rid in rids]


class Counters:
    """The counters repository: the write path's journal, recovery, rebuild, and the reads (which the query
    service bounds by ``max_time_ms``)."""

    def __init__(self, store: Store, max_time_ms: int | None = None) -> None:
        self.store = store
        self.max_time_ms = max_time_ms
        self.counters = store.db["counters"]
        self.alerts = store.alerts
        self.metrics = store.metrics

    @timed
    async def ensure_indexes(self) -> None:
        # Every read is ``kind`` plus equalities, then at most one ``$in`` (see ``pushdown``).
        await self.counters.create_index([("kind", ASCENDING), ("environment", ASCENDING), ("event", ASCENDING)],
                                         name="by_kind_environment_event")
        await self.counters.create_index([("kind", ASCENDING), ("event", ASCENDING)], name="by_kind_event")

    # -- the write path ----------------------------------------------------------------------------------

    @timed
    async def begin(self, entries: list[JournalEntry]) -> str | None:
        """The journal and counter updates alone (batch.py sends them with the alert writes); the journal's id."""
        changes = entry_changes(entries)
        marked = [rid for entry in entries for rid in entry.marked]
        if changes.empty() and not marked:
            return None
        journal = counter_id(JOURNAL, uuid.uuid4().hex)
        record = {"kind": JOURNAL, "at": now_ms(), "writes": [entry.dump() for entry in entries]}
        ops = [UpdateOne({"_id": journal}, {"$setOnInsert": record}, upsert=True), *changes.writes()]
        await self.counters.bulk_write([*ops, *as_writes(marker_updates(marked, +1))], ordered=True)
        return journal

    @timed
    async def settle(self, journal: str | None, entries: list[JournalEntry], conflicts: set[str]) -> None:
        """After ``begin`` and the alert write: take back what lost a race, then drop the journal."""
        if journal is None:
            return
        lost = [entry for entry in entries if entry.alert_id in conflicts]
        if lost:
            kept = [entry.dump() for entry in entries if entry.alert_id not in conflicts]
            await self.take_back(journal, None, lost, kept)
        if (await self.counters.delete_one({"_id": journal})).deleted_count == 0:
            log.warning("counter journal %s was recovered while its batch was still writing (the store was slower "
                        "than %.0fs); the counts may be off until POST /management/recount", journal, JOURNAL_GRACE)

    async def take_back(self, journal: str, token: str | None, entries: list[JournalEntry],
                        kept: list[dict[str, Any]]) -> None:
        """Undo entries' updates; the journal (first in the command) keeps only ``kept`` — if it is still the one
        with token ``token`` (batch.py: a journal slot may have been taken by another batch since)."""
        ops = [UpdateOne({"_id": journal, "t": token}, {"$set": {"writes": kept}}),
               *entry_changes(entries, undo=True).writes(),
               *as_writes(marker_updates([rid for entry in entries for rid in entry.marked], -1))]
        await self.counters.bulk_write(ops, ordered=True)

    @timed
    async def add_alerts(self, docs: Iterable[Mapping[str, Any]]) -> None:
        """Count alerts inserted directly (seeding); not journalled."""
        changes = Changes()
        for doc in docs:
            changes.add(Footprint.of(doc), +1)
        ops = changes.writes()
        for start in range(0, len(ops), WRITE_CHUNK):
            await self.counters.bulk_write(ops[start:start + WRITE_CHUNK], ordered=False)

    # -- recovery and rebuild -----------------------------------------------------------------------------

    @timed
    async def recover(self, grace: float = JOURNAL_GRACE) -> dict[str, int]:
        """Take back the updates of journalled writes that did not land, for journals older than ``grace``;
        drop old redelivery markers. Runs under the ``counters`` lease (skipped while another holder runs)."""
        try:
            async with Leases(self.store).hold(LEASE, 0, due_only=False):
                return await self._recover(grace)
        except LeaseBusy:
            return {"journals": 0, "compensated": 0}

    async def _recover(self, grace: float) -> dict[str, int]:
        now = now_ms()
        journals = [doc async for doc in self.counters.find({"kind": JOURNAL})]
        stale = [doc for doc in journals if doc["at"] < now - timedelta(seconds=grace)]
        entries = {doc["_id"]: [JournalEntry.load(raw) for raw in doc.get("writes") or ()] for doc in stale}
        everything = [entry for batch in entries.values() for entry in batch]
        alerts = {doc["_id"]: doc async for doc in self.alerts.find(
            {"_id": {"$in": sorted({entry.alert_id for entry in everything})}}, {"_rids": 1})} if everything else {}
        markers = await self._markers({rid for entry in everything for rid in entry.rids})
        compensated = 0
        for doc in stale:
            decided = [(entry, landed(entry, alerts.get(entry.alert_id), markers)) for entry in entries[doc["_id"]]]
            waiting = doc["at"] > now - timedelta(seconds=HORIZON)
            undecided = [entry for entry, verdict in decided if verdict is None and waiting]
            lost = [entry for entry, verdict in decided if verdict is False]
            if lost:
                await self.take_back(doc["_id"], doc.get("t"), lost, [entry.dump() for entry in undecided])
                compensated += len(lost)
            if not undecided:  # unless a batch took the slot again meanwhile (batch.py): then it is its journal
                await self.counters.delete_one({"_id": doc["_id"], "t": doc.get("t")})
        await self._drop_old_markers(now - timedelta(seconds=HORIZON))
        if compensated:
            log.warning("counters: took back %d alert writes that did not land (from %d journals)", compensated,
                        len(stale))
        return {"journals": len(stale), "compensated": compensated}

    async def _markers(self, rids: set[str]) -> dict[str, int]:
        """The redelivery marker of each receive id that has one."""
        if not rids:
            return {}
        ids = {marker_id(rid): rid for rid in rids}
        return {ids[doc["_id"]]: int(doc.get("n") or 0)
                async for doc in self.counters.find({"_id": {"$in": sorted(ids)}})}

    async def _drop_old_markers(self, before: Any) -> None:
        old = [doc["_id"] async for doc in self.counters.find({"kind": MARKER}) if doc.get("at") < before]
        if old:
            await self.counters.delete_many({"_id": {"$in": old}})

    @timed
    async def rebuild(self) -> dict[str, int]:
        """Recompute every counter from the alerts (one scan). Exact when no alert is written meanwhile: updates
        of writes that land during the scan may be lost or counted twice; run it again in a quiet moment then.
        Readers fall back to aggregation until it is done."""
        async with Leases(self.store).hold(LEASE, 0, due_only=False):
            await self.counters.delete_one({"_id": BUILT_ID})
            changes, alerts = Changes(), 0
            async for doc in self.alerts.find({}, FOOTPRINT_FIELDS, batch_size=WRITE_CHUNK):
                changes.add(Footprint.of(doc), +1)
                alerts += 1
            await self.counters.delete_many({"kind": {"$in": [SEVERITY, EVENT, DETAIL]}})
            ops = changes.writes()
            for start in range(0, len(ops), WRITE_CHUNK):
                await self.counters.bulk_write(ops[start:start + WRITE_CHUNK], ordered=False)
            await self._mark_built()
        log.info("counters rebuilt from %d alerts (%d counters)", alerts, len(changes.counters))
        return {"alerts": alerts, "counters": len(changes.counters)}

    async def _mark_built(self) -> None:
        await self.counters.update_one({"_id": BUILT_ID}, {"$set": {"kind": META, "at": now_ms()}}, upsert=True)

    @timed
    async def start_up(self, grace: float = JOURNAL_GRACE) -> None:
        """At ingest start-up: indexes; a first build when there are alerts but no counters (an existing
        database); recovery of journals left by a crash."""
        await self.ensure_indexes()
        if not await self.built():
            if await self.alerts.find_one({}, {"_id": 1}) is None:
                await self._mark_built()  # nothing to count: the counters start right
            else:
                try:
                    await self.rebuild()
                except LeaseBusy:
                    log.info("counters: another worker is building them")
        await self.recover(grace)

    # -- reads ----------------------------------------------------------------------------------------------

    async def built(self) -> bool:
        return await self.counters.find_one({"_id": BUILT_ID}, {"_id": 1}, max_time_ms=self.max_time_ms) is not None

    @timed
    @time_limited
    async def severity_keys(self, flt: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """``{environment, status, severity, n}`` for every counted key that matches ``flt``; None when the
        filter needs another field (or the counters are not built): count by aggregation then."""
        match = key_filter(flt, SEVERITY_FIELDS)
        if match is None:
            return None
        docs = await self.counters.find({"kind": {"$in": [SEVERITY, META]}}, max_time_ms=self.max_time_ms).to_list(None)
        if not any(doc["_id"] == BUILT_ID for doc in docs):
            return None
        return [row for doc in docs if doc["kind"] == SEVERITY
                for row in severity_rows(doc) if row["n"] > 0 and match(row)]

    @timed
    @time_limited
    async def top10(self, flt: Mapping[str, Any], limit: int = 10) -> list[dict[str, Any]] | None:
        """Alerta's top ``limit`` by event from the counters (rows as ``AlertQueries.top10`` builds them); None when
        the filter needs another field than environment and status (or the counters are not built)."""
        match = key_filter(flt, EVENT_FIELDS)
        if match is None or not await self.built():
            return None
        groups: dict[str, dict[str, Any]] = {}
        async for doc in self.counters.find({"kind": EVENT, **pushdown(flt)}, max_time_ms=self.max_time_ms):
            if not match(doc):
                continue
            for row in event_rows(doc):
                if row["n"] > 0:
                    group = groups.setdefault(row["event"], {"_id": row["event"], "count": 0, "duplicateCount": 0,
                                                             "environments": set()})
                    group["count"] += row["n"]
                    group["duplicateCount"] += row["d"]
                    group["environments"].add(row["environment"])
        top = sorted(groups.values(), key=lambda g: (-g["count"], -g["duplicateCount"], g["_id"]))[:limit]
        await self._details(flt, match, top)
        return top

    async def _details(self, flt: Mapping[str, Any], match: Any, rows: list[dict[str, Any]]) -> None:
        """Services and sampled resources of the chosen groups, from their R counters."""
        services: dict[str, dict[str, int]] = defaultdict(dict)
        samples: dict[str, set[tuple[str, str]]] = defaultdict(set)
        if rows:
            query = {"kind": DETAIL, **pushdown(flt), "event": {"$in": [row["_id"] for row in rows]}}
            async for doc in self.counters.find(query, max_time_ms=self.max_time_ms):
                if not match(doc):
                    continue
                for name, n in (doc.get("s") or {}).items():
                    services[doc["event"]][name] = services[doc["event"]].get(name, 0) + n
                samples[doc["event"]].update((ident, resource) for ident, resource in doc.get("r") or ())
        for row in rows:
            event = row["_id"]
            row["environments"] = sorted(row["environments"])
            row["services"] = sorted(unescape_field(name) for name, n in services[event].items() if n > 0)
            listed = sorted(samples[event], key=lambda item: (item[1], item[0]))[:TOP_RESOURCES]
            row["resources"] = [{"id": ident, "resource": resource} for ident, resource in listed]

    # -- audit ----------------------------------------------------------------------------------------------

    @timed
    async def audit(self, environments: list[str] | None = None) -> list[str]:
        """How the counters differ from a fresh aggregation over the alerts (nothing: they agree); see
        ``counter_audit.py``. For the tests and the chaos verification; costs a scan of the alerts."""
        return await audit(self.counters, self.alerts, environments)
