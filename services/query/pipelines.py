"""The pure part of the read side: the aggregation pipelines and the arithmetic of counts and severity pages
that ``reads.py`` runs (no I/O here). The SecantusDB notes of ``reads.py`` apply: each choice made for it is
marked "SecantusDB:"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.severity import severity_code
from shared.store.core import INTERNAL_FIELDS
from shared.store.counter_keys import TOP_RESOURCES
from shared.store.housekeeping import heartbeat_expired

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


# Alerta's "standing" order: the time each counted row has stood (last reception minus creation, in ms).
LIFE_TIME = {"$multiply": [{"$subtract": ["$lastReceiveTime", "$createTime"]}, "$weight"]}


def top10_stages(group_by: str, kind: str, limit: int) -> Pipeline:
    """Alerta's top n groups by the stored value of ``group_by`` (``service`` groups by the whole list, as Alerta
    does). Alerta counts a row per service of each alert (it unwinds ``service``) or, flapping and standing, per
    severity change and service, and sums the alerts' duplicate counts over those rows; standing ranks the groups
    by the time their rows stood. That weight is computed per alert instead of unwinding, so that one ``$group``
    over the alerts does it: fewer rows, and no set of resources to build (each alert is in exactly one group, so
    its resource is pushed, never looked up). ``limit`` groups are kept (Alerta's ``page-size``)."""
    changes = {"$filter": {"input": "$history", "as": "entry", "cond": {"$eq": ["$$entry.type", "severity"]}}}
    per_service: Any = 1 if kind == "count" else {"$size": changes}
    weight = {"$multiply": [{"$size": "$service"}, per_service]}
    stages: Pipeline = [{"$set": {"weight": weight}}]
    stages.append({"$group": {
        "_id": f"${group_by}",
        "count": {"$sum": "$weight"},
        "duplicateCount": {"$sum": {"$multiply": ["$duplicateCount", "$weight"]}},
        "lifeTime": {"$sum": LIFE_TIME},
        "environments": {"$addToSet": "$environment"},  # a handful of environments
        "services": {"$push": "$service"},  # merged for the groups kept only
        "resources": {"$push": {"id": "$_id", "resource": "$resource"}},
    }})
    return stages + top10_tail(kind, limit)


def top10_tail(kind: str, limit: int) -> Pipeline:
    services = {"$reduce": {"input": "$services", "initialValue": [], "in": {"$setUnion": ["$$value", "$$this"]}}}
    first = {"lifeTime": -1} if kind == "standing" else {}
    return [
        {"$sort": {**first, "count": -1, "duplicateCount": -1, "_id": 1}},
        {"$limit": limit},
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


# -- heartbeats: the status of ``shared.render.heartbeat_body`` as a store condition -------------------------------

# What a listed heartbeat shows (``heartbeat_body``): never an internal field such as the watch's flag.
HEARTBEAT_SHOWN = {name: 1 for name in (
    "origin", "tags", "attributes", "type", "createTime", "timeout", "receiveTime", "customer")}
HEARTBEAT_STATUSES = frozenset({"ok", "slow", "expired"})


def heartbeat_slow(max_latency_ms: int) -> dict[str, Any]:
    """``latency > max_latency_ms``: milliseconds from ``createTime`` to ``receiveTime``."""
    return {"$gt": [{"$subtract": ["$receiveTime", "$createTime"]}, max_latency_ms]}


def heartbeat_status_filter(statuses: Iterable[str], now: datetime, max_latency_ms: int) -> dict[str, Any]:
    """A filter for heartbeats whose computed status is one of ``statuses`` (none or all: no condition). An
    expression, so no index serves it; heartbeats are one per origin and customer, and the store scans them instead of
    alertbus loading every one."""
    wanted = set(statuses)
    if not wanted or wanted >= HEARTBEAT_STATUSES:
        return {}
    expired, slow = heartbeat_expired(now), heartbeat_slow(max_latency_ms)
    alive = {"$not": [expired]}
    each = {
        "expired": expired,
        "slow": {"$and": [alive, slow]},
        "ok": {"$and": [alive, {"$not": [slow]}]},
    }
    chosen = [each[status] for status in sorted(wanted)]
    return {"$expr": chosen[0] if len(chosen) == 1 else {"$or": chosen}}
