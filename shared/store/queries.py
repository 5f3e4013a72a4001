"""The read side of the store: every query of the query service, as aggregation pipelines.

Filters and sorts come from ``shared.filters`` (already white-listed and typed); this module only turns
them into database calls. Severity order is the stored ``severityCode``, so sorting and counting by
severity need no join or lookup. Counts are grouped by ``(severity, status)`` in one pipeline, from which
the total, the severity counts and the status counts all follow.

SecantusDB (the MongoDB-wire server of the tests and the embedded mode) executes differently from mongod,
and some choices here exist for it; each is marked "SecantusDB:" and costs mongod nothing. Its planner uses
an index only when the whole filter is plain equalities on an index prefix plus at most one range or ``$in``
field, else it decodes every document of the collection; it never stops an index scan at the limit, nor
answers anything from an index alone; it sorts in Python with a comparison per pair; its ``$addToSet`` scans
the set. Every read there costs in proportion to the documents it matches.

So the counts (of the list, ``/alerts/count``, ``/environments``) and the default top 10 come from the materialised
counters (``counters.py``) whenever the filter involves only the counters' key fields; any other filter is
counted by aggregation, as here.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from pymongo import InsertOne

from ..severity import severity_code
from .core import INTERNAL_FIELDS, Store, stored
from .counter_keys import TOP_RESOURCES
from .counters import Counters

Sort = list[tuple[str, int]]
Pipeline = list[dict[str, Any]]
SEEDING_BATCH = 1000
BOUNDING_OPERATORS = frozenset({"$in", "$gt", "$gte", "$lt", "$lte"})
NEVER = datetime.min.replace(tzinfo=UTC)
RECENT_WINDOWS = (3600, 8 * 3600, 64 * 3600, 512 * 3600)  # seconds back from now (see AlertQueries.newest)
# The keys of the alert indexes that reads use (Store.ensure_indexes), in index order.
INDEX_KEYS = (
    ("environment", "status", "severityCode", "lastReceiveTime"),
    ("environment", "status", "lastReceiveTime"),
    ("status", "severityCode", "lastReceiveTime"),
    ("environment", "resource", "event"),
    ("resource", "environment"),
    ("lastReceiveTime",),
)


@dataclass
class Counts:
    total: int = 0
    severity: dict[str, int] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    pairs: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, severity: str, status: str, n: int) -> None:
        self.total += n
        self.severity[severity] = self.severity.get(severity, 0) + n
        self.status[status] = self.status.get(status, 0) + n
        self.pairs[severity, status] = self.pairs.get((severity, status), 0) + n

    def by_code(self) -> dict[int, dict[str, int]]:
        """Matches per severity order, and within it per status."""
        out: dict[int, dict[str, int]] = {}
        for (severity, status), n in self.pairs.items():
            statuses = out.setdefault(severity_code(severity), {})
            statuses[status] = statuses.get(status, 0) + n
        return out


def hidden(history: bool, raw_data: bool) -> dict[str, int]:
    """The projection of a listed alert: never the internal fields, history and raw data on request."""
    out = {name: 0 for name in INTERNAL_FIELDS}
    if not history:
        out["history"] = 0
    if not raw_data:
        out["rawData"] = 0
    return out


def is_plain(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def is_bounding(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= BOUNDING_OPERATORS


def split_for_index(flt: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The part of ``flt`` that an index serves, and the rest: the longest run of equalities along one
    index's keys, ended by at most one ``$in`` or range on the next key.

    SecantusDB: a filter with anything more (a regex, a ``$ne``, another field, ``$or``) is not served by any
    index there. Matching the head first and the rest in a second ``$match`` keeps it on the index; mongod
    merges consecutive ``$match`` stages into one query and plans exactly as for the whole filter.
    """
    best: dict[str, Any] = {}
    for keys in INDEX_KEYS:
        head: dict[str, Any] = {}
        for name in keys:
            value = flt.get(name)
            if name not in flt or not (is_plain(value) or is_bounding(value)):
                break
            head[name] = value
            if not is_plain(value):
                break
        if len(head) > len(best):
            best = head
    return best, {key: value for key, value in flt.items() if key not in best}


def match_stages(flt: dict[str, Any], *extra: dict[str, Any]) -> Pipeline:
    head, rest = split_for_index(flt)
    conditions = [rest, *extra] if head else [flt, *extra]
    rest_stages = [{"$match": condition} for condition in conditions if condition]
    return ([{"$match": head}] if head else []) + rest_stages or [{"$match": {}}]


def page_pipeline(flt: dict[str, Any], sort: Sort, skip: int, limit: int, projection: dict[str, int]) -> Pipeline:
    stages = [*match_stages(flt), {"$sort": dict(sort)}]
    if skip:
        stages.append({"$skip": skip})
    return stages + [{"$limit": limit}, {"$project": projection}]


def by_severity_and_status(*keys: str) -> dict[str, Any]:
    ident = {key: f"${key}" for key in keys}
    ident.update(severity="$severity", status="$status")
    return {"$group": {"_id": ident, "n": {"$sum": 1}}}


def fold_counts(rows: Iterable[Mapping[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows grouped by ``keys + (severity, status)`` → one entry per ``keys`` with count and both maps."""
    merged: dict[tuple[Any, ...], Counts] = {}
    for row in rows:
        ident = row["_id"]
        counts = merged.setdefault(tuple(ident.get(key) for key in keys), Counts())
        counts.add(ident.get("severity"), ident.get("status"), row["n"])
    out = []
    for values, counts in sorted(merged.items(), key=lambda item: [str(v) for v in item[0]]):
        entry: dict[str, Any] = dict(zip(keys, values, strict=True))
        entry.update(count=counts.total, severityCounts=counts.severity, statusCounts=counts.status)
        out.append(entry)
    return out


def top10_groups(group_by: str, duplicates: str) -> Pipeline:
    """Top 10 by ``service``: per (service, alert) over the unwound services, then per service.

    SecantusDB: its ``$addToSet`` checks membership by scanning the list, so a set of n resources costs
    n²/2 comparisons (minutes for a popular service at a million alerts). Grouping by alert first makes every
    resource unique, so the second step can ``$push`` it.
    """
    per_alert = {
        "_id": {"group": f"${group_by}", "id": "$_id"},
        "count": {"$sum": "$weight"},
        "duplicateCount": {duplicates: "$duplicateCount"},
        "resource": {"$first": "$resource"},
        "environment": {"$first": "$environment"},
    }
    per_group = {
        "_id": "$_id.group",
        "count": {"$sum": "$count"},
        "duplicateCount": {duplicates: "$duplicateCount"},
        "environments": {"$addToSet": "$environment"},  # a handful of environments
        "services": {"$addToSet": "$_id.group"},
        "resources": {"$push": {"id": "$_id.id", "resource": "$resource"}},
    }
    return [{"$unwind": "$service"}, {"$group": per_alert}, {"$group": per_group}, *top10_tail()]


def top10_stages(group_by: str, flapping: bool) -> Pipeline:
    """Alerta's top 10 counts each alert once per service (it unwinds ``service``), or, flapping, once per
    severity change and service. Except when grouping by service, that weight is computed per alert instead
    of unwinding, so that one ``$group`` over the alerts does it: fewer rows, and no set of resources to
    build (each alert is in exactly one group, so its resource is pushed, never looked up)."""
    changes = {"$filter": {"input": "$history", "as": "entry", "cond": {"$eq": ["$$entry.type", "severity"]}}}
    per_service: Any = {"$size": changes} if flapping else 1
    if group_by == "service":
        return [{"$set": {"weight": per_service}}, *top10_groups(group_by, "$max" if flapping else "$sum")]
    weight = {"$multiply": [{"$size": "$service"}, per_service]}
    stages: Pipeline = [{"$set": {"weight": weight}}]
    duplicates = {"$max": "$duplicateCount"} if flapping else {"$sum": {"$multiply": ["$duplicateCount", "$weight"]}}
    stages.append({"$group": {
        "_id": f"${group_by}",
        "count": {"$sum": "$weight"},
        "duplicateCount": duplicates,
        "environments": {"$addToSet": "$environment"},  # a handful of environments
        "services": {"$push": "$service"},  # merged for the ten groups kept only
        "resources": {"$push": {"id": "$_id", "resource": "$resource"}},
    }})
    return stages + top10_tail(merge_services=True)


def top10_tail(merge_services: bool = False) -> Pipeline:
    services: Any = 1
    if merge_services:
        services = {"$reduce": {"input": "$services", "initialValue": [],
                                "in": {"$setUnion": ["$$value", "$$this"]}}}
    return [
        {"$sort": {"count": -1, "duplicateCount": -1, "_id": 1}},
        {"$limit": 10},
        {"$project": {"count": 1, "duplicateCount": 1, "environments": 1, "services": services,
                      "resources": {"$slice": ["$resources", TOP_RESOURCES]}}},
    ]


def by_severity_then_time(sort: Sort) -> bool:
    return len(sort) == 2 and sort[0][0] == "severityCode" and sort[1][0] == "lastReceiveTime"


def severity_slices(counts: Counts, descending: bool, skip: int, limit: int) -> list[tuple[int, int, int]]:
    """Which ``(severity code, first, end)`` positions within each severity the page ``skip..skip+limit``
    covers, from the counts per severity."""
    out = []
    buckets = counts.by_code()
    start = 0
    for code in sorted(buckets, reverse=descending):
        size = sum(buckets[code].values())
        first, end = max(skip, start), min(skip + limit, start + size)
        if first < end:
            out.append((code, first - start, end - start))
        start += size
        if start >= skip + limit:
            break
    return out


class AlertQueries:
    """Reads of alerts and heartbeats. Takes the ``Store``; holds no state of its own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.alerts = store.alerts
        self.heartbeats = store.heartbeats
        self.counters = Counters(store)

    async def run(self, pipeline: Pipeline, **options: Any) -> list[dict[str, Any]]:
        cursor = await self.alerts.aggregate(pipeline, **options)
        return await cursor.to_list()

    async def page(
        self, flt: dict[str, Any], sort: Sort, skip: int, limit: int, *, history: bool = False,
        raw_data: bool = False,
    ) -> list[dict[str, Any]]:
        return await self.run(page_pipeline(flt, sort, skip, limit, hidden(history, raw_data)))

    async def counts(self, flt: dict[str, Any]) -> Counts:
        """Total, severity counts and status counts of every matching alert: from the counters when the
        filter allows, else in one pipeline."""
        counts = Counts()
        keys = await self.counters.severity_keys(flt)
        if keys is not None:
            for key in keys:
                counts.add(key["severity"], key["status"], key["n"])
            return counts
        for row in await self.run([*match_stages(flt), by_severity_and_status()]):
            counts.add(row["_id"].get("severity"), row["_id"].get("status"), row["n"])
        return counts

    async def page_and_counts(
        self, flt: dict[str, Any], sort: Sort, skip: int, limit: int, *, history: bool = False,
        raw_data: bool = False,
    ) -> tuple[list[dict[str, Any]], Counts]:
        """One page and the counts over all matches. Sorted by severity, the counts say which severities the
        page holds, and only those are read (see ``severity_page``); otherwise both run concurrently."""
        if not by_severity_then_time(sort):
            page = self.page(flt, sort, skip, limit, history=history, raw_data=raw_data)
            return await asyncio.gather(page, self.counts(flt))
        counts = await self.counts(flt)
        docs = await self.severity_page(flt, sort, counts, skip, limit, history=history, raw_data=raw_data)
        return docs, counts

    async def severity_page(
        self, flt: dict[str, Any], sort: Sort, counts: Counts, skip: int, limit: int, *, history: bool,
        raw_data: bool,
    ) -> list[dict[str, Any]]:
        """A page sorted by severity, then time, read one (severity, status) slice at a time.

        SecantusDB: sorting every match in Python costs more than reading it, and the first page of a
        severity-sorted list usually lies in the one or two most severe severities. Each slice is an
        equality on (environment,) status and severityCode, which an index serves on both servers; the
        statuses of one severity are merged by time here.
        """
        docs: list[dict[str, Any]] = []
        by_time = sort[1][1]
        by_code = counts.by_code()
        projection = hidden(history, raw_data)
        for code, first, end in severity_slices(counts, sort[0][1] < 0, skip, limit):
            parts = await asyncio.gather(*(
                self.newest({**flt, "status": status, "severityCode": code}, by_time, end, size, projection)
                for status, size in sorted(by_code[code].items())
            ))
            merged = heapq.merge(*parts, key=lambda doc: doc.get("lastReceiveTime") or NEVER, reverse=by_time < 0)
            docs += islice(merged, first, end)
        return docs

    async def newest(
        self, flt: dict[str, Any], by_time: int, limit: int, size: int, projection: dict[str, int],
    ) -> list[dict[str, Any]]:
        """The first ``limit`` of ``size`` matching alerts by time, looking at recent alerts first.

        SecantusDB: it reads every alert a filter matches before applying the limit, so a slice of many
        thousand alerts costs as many reads for a page of 50. Bounding the receive time to a recent window
        (an index range, widened 8-fold until the page is full) makes the newest alerts of a large slice cost
        about what the page holds. On MongoDB each window is a bounded index scan as well.
        """
        sort: Sort = [("lastReceiveTime", by_time)]
        if by_time > 0 or "lastReceiveTime" in flt or size <= 4 * limit:
            return await self.run(page_pipeline(flt, sort, 0, limit, projection))
        now = datetime.now(UTC)
        for seconds in RECENT_WINDOWS:
            recent = {**flt, "lastReceiveTime": {"$gte": now - timedelta(seconds=seconds)}}
            docs = await self.run(page_pipeline(recent, sort, 0, limit, projection))
            if len(docs) >= limit:
                return docs
        return await self.run(page_pipeline(flt, sort, 0, limit, projection))

    async def top10(self, flt: dict[str, Any], group_by: str, *, flapping: bool = False) -> list[dict[str, Any]]:
        """Alerta's top 10: one row per ``group_by`` value with counts and the sets of environments,
        services and resources; alerts without a service are not counted, an alert with k services counts
        k times (as in Alerta). ``flapping`` counts severity changes instead of alerts. By event (the default)
        it comes from the counters when the filter allows; the resources are then a sample (see
        ``counter_keys``)."""
        rows = await self.counters.top10(flt) if group_by == "event" and not flapping else None
        if rows is not None:
            for row in rows:
                row[group_by] = row.pop("_id")
            return rows
        # Alerts without a service are not counted (Alerta unwinds the services); only alerts that ever
        # changed severity can flap.
        having: dict[str, Any] = {"service.0": {"$exists": True}}
        if flapping:
            having["history.type"] = "severity"
        stages = [*match_stages(flt, having), *top10_stages(group_by, flapping)]
        rows = await self.run(stages, allowDiskUse=True)
        for row in rows:
            row[group_by] = row.pop("_id")
            row["environments"].sort()
            row["services"].sort()
            row["resources"].sort(key=lambda item: (str(item.get("resource")), str(item.get("id"))))
        return rows

    async def history(self, flt: dict[str, Any], skip: int, limit: int) -> list[dict[str, Any]]:
        """One record per history entry of the matching alerts, newest first."""
        keep = {name: 1 for name in (
            "resource", "environment", "service", "group", "tags", "attributes", "origin", "customer", "history",
        )}
        stages = [
            *match_stages(flt),
            {"$project": keep},  # before $unwind, so that each entry does not copy the whole alert
            {"$unwind": "$history"},
            {"$sort": {"history.updateTime": -1, "_id": 1}},
            *([{"$skip": skip}] if skip else []),
            {"$limit": limit},
        ]
        return await self.run(stages, allowDiskUse=True)

    async def environments(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        keys = await self.counters.severity_keys(flt)
        if keys is not None:  # the counters are keyed like the pipeline's groups
            rows = [{"_id": {key: doc[key] for key in ("environment", "severity", "status")}, "n": doc["n"]}
                    for doc in keys]
            return fold_counts(rows, ("environment",))
        rows = await self.run([*match_stages(flt), by_severity_and_status("environment")])
        return fold_counts(rows, ("environment",))

    async def services(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        """Counts per (environment, service). A ``service`` condition applies to each single service
        after unwinding (``service=Web`` counts Web, not the other services of the same alerts)."""
        before = {key: value for key, value in flt.items() if key != "service"}
        after = [{"$match": {"service": flt["service"]}}] if "service" in flt else []
        stages = [*match_stages(before), {"$unwind": "$service"}, *after,
                  by_severity_and_status("environment", "service")]
        return fold_counts(await self.run(stages), ("environment", "service"))

    async def groups(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        rows = await self.run([*match_stages(flt), by_severity_and_status("environment", "group")])
        return fold_counts(rows, ("environment", "group"))

    async def tags(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        stages = [*match_stages(flt), {"$unwind": "$tags"}, by_severity_and_status("environment", "tags")]
        rows = fold_counts(await self.run(stages), ("environment", "tags"))
        for row in rows:
            row["tag"] = row.pop("tags")
        return rows

    async def heartbeat_list(self, flt: dict[str, Any], sort: Sort) -> list[dict[str, Any]]:
        return await self.heartbeats.find(flt, sort=sort).to_list()

    async def explain(self, pipeline: Pipeline) -> dict[str, Any]:
        """The plan the database chose for a pipeline (for the benchmark and for diagnosis)."""
        command = {"aggregate": self.alerts.name, "pipeline": pipeline, "cursor": {}}
        plan: dict[str, Any] = await self.store.db.command("explain", command, verbosity="queryPlanner")
        return plan

    async def insert_alerts(self, docs: Iterable[dict[str, Any]], batch: int = SEEDING_BATCH) -> int:
        """Bulk-insert ready-made alert documents (stored shape, with ``severityCode``), and count them; for
        seeding (not crash-safe: a failed insert raises with the chunk uncounted)."""
        written = 0
        chunk: list[dict[str, Any]] = []
        for doc in docs:
            chunk.append(stored(doc))  # the derived fields of every stored alert (lookup keys, expiry)
            if len(chunk) >= batch:
                written += await self._insert_chunk(chunk)
                chunk = []
        if chunk:
            written += await self._insert_chunk(chunk)
        return written

    async def _insert_chunk(self, docs: list[dict[str, Any]]) -> int:
        inserted = (await self.alerts.bulk_write([InsertOne(doc) for doc in docs], ordered=False)).inserted_count
        await self.counters.add_alerts(docs)
        return inserted
