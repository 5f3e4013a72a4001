"""The read side of the store: every query of the query service, as finds and single aggregation pipelines.

Filters and sorts come from ``shared.filters`` (already white-listed and typed); this module only turns
them into database calls. Severity order is the stored ``severityCode``, so sorting and counting by
severity need no join or lookup. Counts are grouped by ``(severity, status)`` in one pipeline, from which
the total, the severity counts and the status counts all follow.

SecantusDB (the MongoDB-wire server used by the tests and the embedded mode) differs from mongod in ways
that shape some choices here; each is marked "SecantusDB:" where it matters. In short: its planner uses an
index only for a filter of plain fields (equalities, plus at most one range or ``$in`` field) and never
pushes ``limit`` into the scan, so every read costs in proportion to the documents it matches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymongo import InsertOne

from .core import INTERNAL_FIELDS, Store

Sort = list[tuple[str, int]]
TOP_RESOURCES = 100  # resources listed per top-10 group; a popular event can have thousands
SEEDING_BATCH = 1000


@dataclass
class Counts:
    total: int = 0
    severity: dict[str, int] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)

    def add(self, severity: str, status: str, n: int) -> None:
        self.total += n
        self.severity[severity] = self.severity.get(severity, 0) + n
        self.status[status] = self.status.get(status, 0) + n


def hidden(history: bool, raw_data: bool) -> dict[str, int]:
    """The projection of a listed alert: never the internal fields, history and raw data on request."""
    out = {name: 0 for name in INTERNAL_FIELDS}
    if not history:
        out["history"] = 0
    if not raw_data:
        out["rawData"] = 0
    return out


def split_field(flt: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``flt`` without its top-level condition on ``name``, and that condition alone."""
    rest = {key: value for key, value in flt.items() if key != name}
    return rest, ({name: flt[name]} if name in flt else {})


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


def by_severity_and_status(*keys: str) -> dict[str, Any]:
    ident = {key: f"${key}" for key in keys}
    ident.update(severity="$severity", status="$status")
    return {"$group": {"_id": ident, "n": {"$sum": 1}}}


def combine_and(flt: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    return {"$and": [flt, extra]} if flt else extra


def top10_groups(group_by: str, duplicates: str) -> list[dict[str, Any]]:
    """The grouping half of the top 10, in two steps: per (group, alert), then per group.

    SecantusDB: its ``$addToSet`` checks membership by scanning the list, so a set of n resources costs
    n²/2 comparisons (minutes for a popular event at a million alerts). Grouping by alert first makes every
    resource unique, so the second step can ``$push`` it; the service sets are merged only for the ten
    groups kept. mongod does the same work in the same time either way.
    """
    per_alert = {
        "_id": {"group": f"${group_by}", "id": "$_id"},
        "count": {"$sum": 1},
        "duplicateCount": {duplicates: "$duplicateCount"},
        "resource": {"$first": "$resource"},
        "environment": {"$first": "$environment"},
        "services": {"$addToSet": "$service"},  # an alert's own few services
    }
    per_group = {
        "_id": "$_id.group",
        "count": {"$sum": "$count"},
        "duplicateCount": {duplicates: "$duplicateCount"},
        "environments": {"$addToSet": "$environment"},  # a handful of environments
        "services": {"$push": "$services"},
        "resources": {"$push": {"id": "$_id.id", "resource": "$resource"}},
    }
    merged = {"$reduce": {"input": "$services", "initialValue": [], "in": {"$setUnion": ["$$value", "$$this"]}}}
    return [
        {"$group": per_alert},
        {"$group": per_group},
        {"$sort": {"count": -1, "duplicateCount": -1, "_id": 1}},
        {"$limit": 10},
        {"$project": {"count": 1, "duplicateCount": 1, "environments": 1, "services": merged,
                      "resources": {"$slice": ["$resources", TOP_RESOURCES]}}},
    ]


class AlertQueries:
    """Reads of alerts and heartbeats. Takes the ``Store``; holds no state of its own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.alerts = store.alerts
        self.heartbeats = store.heartbeats

    async def page(
        self, flt: dict[str, Any], sort: Sort, skip: int, limit: int, *, history: bool = False,
        raw_data: bool = False,
    ) -> list[dict[str, Any]]:
        cursor = self.alerts.find(flt, hidden(history, raw_data), sort=sort, skip=skip, limit=limit)
        return await cursor.to_list()

    async def counts(self, flt: dict[str, Any]) -> Counts:
        """Total, severity counts and status counts of every matching alert, in one pipeline."""
        counts = Counts()
        cursor = await self.alerts.aggregate([{"$match": flt}, by_severity_and_status()])
        async for row in cursor:
            counts.add(row["_id"].get("severity"), row["_id"].get("status"), row["n"])
        return counts

    async def page_and_counts(
        self, flt: dict[str, Any], sort: Sort, skip: int, limit: int, *, history: bool = False,
        raw_data: bool = False,
    ) -> tuple[list[dict[str, Any]], Counts]:
        """One page and the counts over all matches, asked for concurrently."""
        page = self.page(flt, sort, skip, limit, history=history, raw_data=raw_data)
        return await asyncio.gather(page, self.counts(flt))

    async def top10(self, flt: dict[str, Any], group_by: str, *, flapping: bool = False) -> list[dict[str, Any]]:
        """Alerta's top 10: one row per ``group_by`` value with counts and the sets of environments,
        services and resources; alerts without a service are not counted, an alert with k services counts
        k times (as in Alerta). ``flapping`` counts severity changes instead of alerts."""
        stages: list[dict[str, Any]] = [{"$match": flt}, {"$unwind": "$service"}]
        duplicates = "$sum"
        if flapping:
            # Only alerts that ever changed severity can flap; the first $match drops the rest early.
            stages[0] = {"$match": combine_and(flt, {"history.type": "severity"})}
            stages += [{"$unwind": "$history"}, {"$match": {"history.type": "severity"}}]
            duplicates = "$max"
        cursor = await self.alerts.aggregate(stages + top10_groups(group_by, duplicates), allowDiskUse=True)
        rows = await cursor.to_list()
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
        stages: list[dict[str, Any]] = [
            {"$match": flt},
            {"$project": keep},  # before $unwind, so that each entry does not copy the whole alert
            {"$unwind": "$history"},
            {"$sort": {"history.updateTime": -1, "_id": 1}},
            {"$skip": skip},
            {"$limit": limit},
        ]
        cursor = await self.alerts.aggregate(stages, allowDiskUse=True)
        return await cursor.to_list()

    async def environments(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        cursor = await self.alerts.aggregate([{"$match": flt}, by_severity_and_status("environment")])
        return fold_counts(await cursor.to_list(), ("environment",))

    async def services(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        """Counts per (environment, service). A ``service`` condition applies to each single service
        after unwinding (``service=Web`` counts Web, not the other services of the same alerts)."""
        before, after = split_field(flt, "service")
        stages: list[dict[str, Any]] = [{"$match": before}, {"$unwind": "$service"}]
        if after:
            stages.append({"$match": after})
        stages.append(by_severity_and_status("environment", "service"))
        cursor = await self.alerts.aggregate(stages)
        return fold_counts(await cursor.to_list(), ("environment", "service"))

    async def groups(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        cursor = await self.alerts.aggregate([{"$match": flt}, by_severity_and_status("environment", "group")])
        return fold_counts(await cursor.to_list(), ("environment", "group"))

    async def tags(self, flt: dict[str, Any]) -> list[dict[str, Any]]:
        stages: list[dict[str, Any]] = [
            {"$match": flt}, {"$unwind": "$tags"}, by_severity_and_status("environment", "tags"),
        ]
        rows = fold_counts(await (await self.alerts.aggregate(stages)).to_list(), ("environment", "tags"))
        for row in rows:
            row["tag"] = row.pop("tags")
        return rows

    async def heartbeat_list(self, flt: dict[str, Any], sort: Sort) -> list[dict[str, Any]]:
        return await self.heartbeats.find(flt, sort=sort).to_list()

    async def explain_page(self, flt: dict[str, Any], sort: Sort, limit: int) -> dict[str, Any]:
        """The plan the database chose for a list query (for the benchmark and for diagnosis)."""
        plan: dict[str, Any] = await self.alerts.find(flt, hidden(False, False), sort=sort, limit=limit).explain()
        return plan

    async def explain_pipeline(self, pipeline: list[dict[str, Any]]) -> dict[str, Any]:
        command = {"aggregate": self.alerts.name, "pipeline": pipeline, "cursor": {}}
        plan: dict[str, Any] = await self.store.db.command("explain", command, verbosity="queryPlanner")
        return plan

    async def insert_alerts(self, docs: Iterable[dict[str, Any]], batch: int = SEEDING_BATCH) -> int:
        """Bulk-insert ready-made alert documents (stored shape, with ``severityCode``); for seeding."""
        written = 0
        chunk: list[InsertOne[dict[str, Any]]] = []
        for doc in docs:
            chunk.append(InsertOne(doc))
            if len(chunk) >= batch:
                written += (await self.alerts.bulk_write(chunk, ordered=False)).inserted_count
                chunk = []
        if chunk:
            written += (await self.alerts.bulk_write(chunk, ordered=False)).inserted_count
        return written
