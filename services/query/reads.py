"""The read side of the store: every query of the query service, as aggregation pipelines.

Filters and sorts come from ``services.query.filters`` (already white-listed and typed); this module only turns
them into database calls. Severity order is the stored ``severityCode``, so sorting and counting by
severity need no join or lookup. Counts are grouped by ``(severity, status)`` in one pipeline, from which
the total, the severity counts and the status counts all follow.

SecantusDB (the MongoDB-wire server of the tests and the embedded mode) executes differently from mongod,
and some choices here exist for it; each is marked "SecantusDB:" and costs mongod nothing. Its planner uses
an index only when the whole filter is plain equalities on an index prefix plus at most one range or ``$in``
field, else it decodes every document of the collection; it never stops an index scan at the limit, nor
answers anything from an index alone; it sorts in Python with a comparison per pair; its ``$addToSet`` scans
the set. Every read there costs in proportion to the documents it matches.

Every read carries ``maxTimeMS`` when the query service gives one (``STORE_MAX_TIME_MS``): a filter the store
finds expensive (a regular expression over long values, on a backtracking engine) is stopped by the store, and the
read raises ``QueryTimeout`` (``core.time_limited``).

The pipelines themselves, and the arithmetic of counts and severity pages, are pure and live in
``pipelines.py``. The counts (of the list, ``/alerts/count``, ``/environments``) and the default top 10
come from the materialised counters (``counters.py``) whenever the filter involves only the counters' key
fields; any other filter is counted by aggregation, as here.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from shared.store.core import Store, time_limited
from shared.store.counters import Counters

from .pipelines import (
    HEARTBEAT_SHOWN,
    NEVER,
    RECENT_WINDOWS,
    Counts,
    Pipeline,
    Sort,
    by_severity_and_status,
    by_severity_then_time,
    fold_counts,
    heartbeat_status_filter,
    hidden,
    match_stages,
    page_pipeline,
    severity_slices,
    top10_stages,
)


class AlertQueries:
    """Reads of alerts and heartbeats. Takes the ``Store`` and the time limit of each read (``max_time_ms``;
    None: none, for the benchmark and for seeding); holds no state of its own."""

    def __init__(self, store: Store, max_time_ms: int | None = None) -> None:
        self.store = store
        self.alerts = store.alerts
        self.heartbeats = store.heartbeats
        self.max_time_ms = max_time_ms
        self.limit: dict[str, Any] = {"maxTimeMS": max_time_ms} if max_time_ms else {}
        self.counters = Counters(store, max_time_ms)

    @time_limited
    async def run(self, pipeline: Pipeline, **options: Any) -> list[dict[str, Any]]:
        cursor = await self.alerts.aggregate(pipeline, **self.limit, **options)
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
            found, counts = await asyncio.gather(page, self.counts(flt))
            return found, counts
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

    async def top10(
        self, flt: dict[str, Any], group_by: str, *, kind: str = "count", limit: int = 10,
    ) -> list[dict[str, Any]]:
        """Alerta's top n (``limit`` groups): one row per ``group_by`` value with counts and the sets of
        environments, services and resources; alerts without a service are not counted, an alert with k services
        counts k times (as in Alerta). ``flapping`` and ``standing`` count severity changes instead of alerts
        (standing ranks by the time the alerts stood). By event (the default) the count comes from the counters
        when the filter allows; the resources are then a sample (see ``counter_keys``)."""
        use_counters = group_by == "event" and kind == "count"
        rows = await self.counters.top10(flt, limit) if use_counters else None
        if rows is not None:
            for row in rows:
                row[group_by] = row.pop("_id")
            return rows
        # Alerts without a service are not counted (Alerta unwinds the services); only alerts that ever
        # changed severity can flap (or stand).
        having: dict[str, Any] = {"service.0": {"$exists": True}}
        if kind != "count":
            having["history.type"] = "severity"
        stages = [*match_stages(flt, having), *top10_stages(group_by, kind, limit)]
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

    @time_limited
    async def heartbeat_page(
        self, flt: dict[str, Any], statuses: Iterable[str], sort: Sort, skip: int, limit: int, *, now: datetime,
        max_latency_ms: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of heartbeats (the fields a listed heartbeat shows) and the number of all matches. The status
        depends on the clock (``now``, which the caller also renders with), and is matched in the store, so that
        neither the page nor the count loads every heartbeat."""
        query = {**flt, **heartbeat_status_filter(statuses, now, max_latency_ms)}
        # A stable order for paging: receive times can tie.
        order = sort if any(key == "_id" for key, _ in sort) else [*sort, ("_id", 1)]
        page = self.heartbeats.find(query, HEARTBEAT_SHOWN, sort=order, skip=skip, limit=limit,
                                    max_time_ms=self.max_time_ms)
        docs, total = await asyncio.gather(page.to_list(None), self.heartbeats.count_documents(query, **self.limit))
        return docs, total
