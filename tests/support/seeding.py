"""Seeding and diagnosis helpers for the benchmark and the tests: bulk-insert ready-made alert documents (with
their counters) and heartbeat documents, and show the plan the database chose for a pipeline. Not part of the
production read repository (``services/query/reads.py``): nothing here is crash-safe or bounded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import InsertOne

from services.query.pipelines import SEEDING_BATCH, Pipeline
from shared.store import Store
from shared.store.core import stored
from shared.store.counters import Counters


async def explain(store: Store, pipeline: Pipeline) -> dict[str, Any]:
    """The plan the database chose for an aggregation over the alerts."""
    command = {"aggregate": store.alerts.name, "pipeline": pipeline, "cursor": {}}
    plan: dict[str, Any] = await store.db.command("explain", command, verbosity="queryPlanner")
    return plan


async def insert_alerts(store: Store, docs: Iterable[dict[str, Any]], batch: int = SEEDING_BATCH) -> int:
    """Bulk-insert alert documents (stored shape, with ``severityCode``) and their counters; how many were
    inserted (a failed insert raises with its chunk uncounted)."""
    counters = Counters(store)
    written = 0
    chunk: list[dict[str, Any]] = []
    for doc in docs:
        chunk.append(stored(doc))  # the derived fields of every stored alert (lookup keys, expiry)
        if len(chunk) >= batch:
            written += await _insert_chunk(store, counters, chunk)
            chunk = []
    if chunk:
        written += await _insert_chunk(store, counters, chunk)
    return written


async def _insert_chunk(store: Store, counters: Counters, docs: list[dict[str, Any]]) -> int:
    inserted = (await store.alerts.bulk_write([InsertOne(doc) for doc in docs], ordered=False)).inserted_count
    await counters.add_alerts(docs)
    return inserted


async def insert_heartbeats(store: Store, docs: Iterable[dict[str, Any]], batch: int = SEEDING_BATCH) -> int:
    """Bulk-insert heartbeat documents as the ingest worker stores them (with ``_watchAt``, see
    ``shared/store/heartbeats.py``); how many were inserted."""
    written = 0
    chunk: list[InsertOne[dict[str, Any]]] = []
    for doc in docs:
        chunk.append(InsertOne(doc))
        if len(chunk) >= batch:
            written += (await store.heartbeats.bulk_write(chunk, ordered=False)).inserted_count
            chunk = []
    if chunk:
        written += (await store.heartbeats.bulk_write(chunk, ordered=False)).inserted_count
    return written
