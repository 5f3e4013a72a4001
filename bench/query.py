"""``python -m bench.query``: read latency of the query service at N stored alerts.

Seeds N alerts (default 100,000; ``--alerts 1000000``) straight into the store with a realistic spread
(bench/query_seed.py), starts its own SecantusDB process (or uses ``--database-url``) and the query service as a
separate process (``alertbus query``: bench/query_service.py), and
reports p50/p95 latency of the list (first page, filtered by environment and status, sorted by severity),
count, top 10 and environments, plus the plan the database chose for the list and the count. Latency is
measured at checkpoints while seeding (N/100, N/10, N), to show how it grows with N.

Seeding keeps the materialised counters (shared/store/counters.py) as the ingest worker does, so the counts, the
environments and the top 10 by event are read from them. A kept ``--data-dir`` seeded by a version without
counters has them built once first (one scan of every alert, timed), as an ingest worker's start-up would.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.query_seed import Alerts, build_counters, seed_to
from bench.query_service import SECRET, query_service, tail
from bench.store import bench_store
from services.query.filters import parse_alert_query
from services.query.pipelines import (
    RECENT_WINDOWS,
    by_severity_and_status,
    match_stages,
    page_pipeline,
    severity_slices,
)
from services.query.reads import AlertQueries
from shared.edge import SERVICE_HEADER
from shared.store import open_store
from tests.support.seeding import explain as plan_of

LIST = [("environment", "Production"), ("status", "open"), ("sort-by", "severity")]
ENDPOINTS = {
    "list": ("list (Production, open, by severity, page 1)", "/alerts", LIST),
    "count": ("count (Production)", "/alerts/count", [("environment", "Production")]),
    "count-all": ("count (all)", "/alerts/count", []),
    "top10": ("top10 (Production)", "/alerts/top10", [("environment", "Production")]),
    "environments": ("environments", "/environments", []),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.query", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=100_000, help="alerts to seed (default 100000)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per endpoint (default 20)")
    parser.add_argument("--endpoints", default="page," + ",".join(ENDPOINTS),
                        help="what to measure (default all): page (the list's first page read by the store, "
                             "without its counts), " + ", ".join(ENDPOINTS))
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds at most per endpoint and checkpoint; fewer requests when slower")
    parser.add_argument("--checkpoints", help="comma-separated alert counts to measure at (default N/100,N/10,N)")
    parser.add_argument("--database-url",
                        help="seed and query this (empty) MongoDB database instead of starting SecantusDB")
    parser.add_argument("--data-dir", help="keep the SecantusDB store (and logs) here; a later run with the same "
                                           "directory reuses the alerts already seeded")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated alerts")
    return parser.parse_args(argv)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def measure(session: aiohttp.ClientSession, url: str, requests: int, budget: float) -> tuple[list[float], int]:
    """Sequential GETs (latency, not throughput): one warm-up, then up to ``requests`` within ``budget``."""
    async with session.get(url) as response:
        body = await response.json()
        if response.status != 200:
            raise RuntimeError(f"GET {url} answered {response.status}: {body}")
    total = int(body.get("total", 0))
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < requests and (len(times) < 3 or time.perf_counter() < deadline):
        started = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
        times.append((time.perf_counter() - started) * 1000)
    return times, total


def plan_summary(plan: dict[str, Any]) -> str:
    """``SORT <- FETCH <- IXSCAN name`` from an explain document (find or aggregate)."""
    planner = plan.get("queryPlanner") or {}
    if not planner and plan.get("stages"):
        planner = plan["stages"][0].get("$cursor", {}).get("queryPlanner", {})
    stage = planner.get("winningPlan") or {}
    parts = []
    while stage:
        name = stage.get("stage", "?")
        if stage.get("indexName"):
            name += f" {stage['indexName']} {stage.get('keyPattern', '')}"
        parts.append(name)
        stage = stage.get("inputStage") or (stage.get("inputStages") or [None])[0] or {}
    return " <- ".join(parts) or "(no plan reported)"


async def checkpoint(url: str, stored: int, args: argparse.Namespace, logs: Path, queries: AlertQueries) -> None:
    print(f"\n{stored:,} alerts stored")
    print(f"  {'endpoint':46} {'matches':>9} {'n':>4} {'p50 ms':>9} {'p95 ms':>9}")
    wanted = args.endpoints.split(",")
    if "page" in wanted:
        times, total = await measure_page(queries, args.requests, args.budget)
        report("list page only (store, counts known)", total, times)
    timeout = aiohttp.ClientTimeout(total=900)
    # The query service answers only the gateway: the bench presents the secret as the gateway does.
    async with aiohttp.ClientSession(timeout=timeout, headers={SERVICE_HEADER: SECRET}) as session:
        for key in (key for key in ENDPOINTS if key in wanted):
            label, path, params = ENDPOINTS[key]
            try:
                times, total = await measure(session, f"{url}{path}?{urlencode(params)}", args.requests,
                                             args.budget)
            except (RuntimeError, aiohttp.ClientError, TimeoutError) as exc:
                print(f"  {label:46} failed: {exc}\n{tail(logs / 'query.log')}{tail(logs / 'store.log')}", flush=True)
                continue
            report(label, total, times)


def report(label: str, total: int, times: list[float]) -> None:
    print(f"  {label:46} {total:>9,} {len(times):>4} {statistics.median(times):>9.1f} "
          f"{percentile(times, 0.95):>9.1f}", flush=True)


async def measure_page(queries: AlertQueries, requests: int, budget: float) -> tuple[list[float], int]:
    """The first page of the list as the store reads it once the counts are known: the part of the list
    that does not grow with the number of matches (the counts, measured by "count", do)."""
    query = parse_alert_query(LIST)
    flt = query.visible()
    counts = await queries.counts(flt)
    times: list[float] = []
    deadline = time.perf_counter() + budget
    while len(times) < requests and (len(times) < 3 or time.perf_counter() < deadline):
        started = time.perf_counter()
        await queries.severity_page(flt, query.sort, counts, 0, query.page_size, history=False, raw_data=False)
        times.append((time.perf_counter() - started) * 1000)
    return times, counts.total


async def explain(queries: AlertQueries) -> None:
    """The plans of the list's first slice (the most severe severity of the page, its first window of recent
    alerts) and of its count."""
    query = parse_alert_query(LIST)
    flt = query.visible()
    counts = await queries.counts(flt)
    code, _, end = severity_slices(counts, False, query.skip, query.page_size)[0]
    status = sorted(counts.by_code()[code])[0]
    since = datetime.now(UTC) - timedelta(seconds=RECENT_WINDOWS[0])
    first = {**flt, "status": status, "severityCode": code, "lastReceiveTime": {"$gte": since}}
    print(f"\nplans (list {dict(LIST)} → counts, then one slice per severity and status on the page)")
    print(f"  list slice {first} sort lastReceiveTime desc, limit {end}")
    page = page_pipeline(first, [("lastReceiveTime", -1)], 0, end, {"history": 0})
    print(f"        {plan_summary(await plan_of(queries.store, page))}")
    print(f"  count {flt} (from the counters; by aggregation for a filter on other fields:)")
    print(f"        {plan_summary(await plan_of(queries.store, [*match_stages(flt), by_severity_and_status()]))}")


async def run(args: argparse.Namespace, database_url: str, logs: Path) -> None:
    steps = sorted({int(step) for step in args.checkpoints.split(",")} if args.checkpoints else
                   {max(1, args.alerts // 100), max(1, args.alerts // 10), args.alerts})
    alerts = Alerts(args.seed, datetime.now(UTC))
    async with open_store(database_url) as store, query_service(database_url, logs) as url:
        queries = AlertQueries(store)
        stored = await store.alerts.estimated_document_count()
        await build_counters(queries.counters, stored)
        if stored:  # a kept --data-dir: carry on after the alerts already there
            print(f"{stored:,} alerts already stored", flush=True)
            for _ in range(stored):
                alerts.next()
        for step in (step for step in steps if step >= stored):
            if step > alerts.count:
                rate = await seed_to(queries, alerts, step)
                print(f"\nseeded up to {step:,} alerts at {rate:,.0f} alerts/s", flush=True)
            await checkpoint(url, step, args, logs, queries)
        await explain(queries)


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keep = args.data_dir is not None
    directory = Path(args.data_dir) if keep else Path(tempfile.mkdtemp(prefix="alertbus-bench-query-"))
    async with bench_store(args.database_url, directory, keep=keep) as database_url:
        await run(args, database_url, directory)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
