"""The audit of the materialised counters: how they differ from a fresh aggregation over the alerts, and sample
entries that are not alerts of their key. For the tests and the chaos verification (``Counters.audit``); it
costs a scan of the alerts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .counter_keys import (
    DETAIL,
    EVENT,
    FOOTPRINT_FIELDS,
    SEVERITY,
    TOP_RESOURCES,
    counter_id,
    escape_field,
    flatten,
)


async def audit(counters: Any, alerts: Any, environments: list[str] | None = None) -> list[str]:
    """How the counters differ from a fresh aggregation over the alerts (nothing: they agree), optionally
    for some environments only; and sample entries that are not alerts of their key. For the tests and the
    chaos verification; costs a scan of the alerts."""
    scope: dict[str, Any] = {"environment": {"$in": environments}} if environments else {}
    expected = await _aggregated(alerts, scope)
    actual: dict[str, dict[str, int]] = {}
    samples: dict[str, list[tuple[str, str]]] = {}
    async for doc in counters.find({"kind": {"$in": [SEVERITY, EVENT, DETAIL]}}):
        if environments and doc["environment"] not in environments:
            continue
        actual[doc["_id"]] = flatten({name: doc[name] for name in ("n", "e", "s") if name in doc})
        samples[doc["_id"]] = [tuple(entry) for entry in doc.get("r") or ()]
    expected = {ident: values for ident, values in expected.items() if values}
    actual = {ident: values for ident, values in actual.items() if values}
    problems = [f"{ident}: counted {actual.get(ident, {})}, aggregated {expected.get(ident, {})}"
                for ident in sorted(expected.keys() | actual.keys())
                if expected.get(ident, {}) != actual.get(ident, {})]
    return problems + await _sample_problems(alerts, samples)

async def _aggregated(alerts: Any, scope: dict[str, Any]) -> dict[str, dict[str, int]]:
    """The counters as an aggregation over the alerts computes them (shaped as ``flatten`` reads them)."""
    key = {"e": "$environment", "s": "$status"}
    served = {**scope, "service.0": {"$exists": True}}
    weight = {"$size": "$service"}
    out: dict[str, dict[str, int]] = defaultdict(dict)
    pipeline: list[dict[str, Any]] = [
        {"$match": scope}, {"$group": {"_id": {**key, "v": "$severity"}, "n": {"$sum": 1}}}]
    async for row in await alerts.aggregate(pipeline):
        ident = row["_id"]
        out[counter_id(SEVERITY, ident["e"])][f"n.{escape_field(ident['s'])}.{escape_field(ident['v'])}"] = row["n"]
    pipeline = [{"$match": served}, {"$group": {
        "_id": {**key, "ev": "$event"}, "n": {"$sum": weight},
        "d": {"$sum": {"$multiply": ["$duplicateCount", weight]}}}}]
    async for row in await alerts.aggregate(pipeline):
        ident = row["_id"]
        for name in ("n", "d"):
            if row[name]:
                out[counter_id(EVENT, ident["e"], ident["s"])][f"e.{escape_field(ident['ev'])}.{name}"] = row[name]
    pipeline = [{"$match": served}, {"$unwind": "$service"},
                {"$group": {"_id": {**key, "ev": "$event", "svc": "$service"}, "n": {"$sum": 1}}}]
    async for row in await alerts.aggregate(pipeline):
        ident = row["_id"]
        out[counter_id(DETAIL, ident["e"], ident["s"], ident["ev"])]["s." + escape_field(ident["svc"])] = row["n"]
    return dict(out)

async def _sample_problems(alerts: Any, samples: dict[str, list[tuple[str, str]]]) -> list[str]:
    ids = sorted({ident for entries in samples.values() for ident, _ in entries})
    alerts = {doc["_id"]: doc async for doc in alerts.find({"_id": {"$in": ids}}, FOOTPRINT_FIELDS)}
    problems = []
    for counter, entries in samples.items():
        if len(set(entries)) != len(entries) or len(entries) > TOP_RESOURCES:
            problems.append(f"{counter}: sample with repeats or too long: {entries}")
        for ident, resource in entries:
            doc = alerts.get(ident)
            key = doc and counter_id(DETAIL, doc["environment"], doc["status"], doc["event"])
            if key != counter or not doc or doc["resource"] != resource or not doc.get("service"):
                problems.append(f"{counter}: sample entry {ident} ({resource}) is not an alert of it")
    return problems
