"""``python -m bench.query``: read latency of the query service at N stored alerts.

Seeds N alerts (default 100,000; ``--alerts 1000000``) straight into the store through
``tests.support.seeding.insert_alerts`` with a realistic spread (environments, the 13 severities, statuses, services,
tags, resources, a month of receive times, some severity changes in history), starts its own SecantusDB
process (or uses ``--database-url``) and the query service as a separate process (``alertbus query``), and
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
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bench.store import bench_store
from services.embedded import free_port
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
from shared.rules import create
from shared.severity import SEVERITIES, severity_code
from shared.store import open_store
from shared.store.counters import Counters
from tests.support.seeding import explain as plan_of
from tests.support.seeding import insert_alerts

ENVIRONMENTS = {"Production": 50, "Development": 25, "Staging": 15, "QA": 10}
SEVERITY_WEIGHTS = {
    "security": 0.5, "critical": 3, "major": 10, "minor": 15, "warning": 20, "indeterminate": 2,
    "informational": 10, "normal": 14, "ok": 8, "cleared": 8, "debug": 4, "trace": 2, "unknown": 3.5,
}
ACTIVE_STATUSES = {"open": 60, "ack": 15, "assign": 3, "shelved": 5, "blackout": 2, "closed": 10, "expired": 5}
SERVICES = [f"svc-{n:02d}" for n in range(60)]
SECRET = secrets.token_urlsafe(24)  # the query service's SERVICE_SECRET for this run
TAGS = [f"tag-{n:02d}" for n in range(30)]
EVENTS = [f"Event{n:03d}" for n in range(200)]
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


class Alerts:
    """An endless, reproducible stream of stored alert documents, built by the ingest rules."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.count = 0

    def pick(self, weights: Mapping[str, float]) -> str:
        return self.rng.choices(list(weights), list(weights.values()))[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            yield self.next()

    def next(self) -> dict[str, Any]:
        rng, n = self.rng, self.count
        self.count += 1
        severity = self.pick(SEVERITY_WEIGHTS)
        at = self.now - timedelta(seconds=int(rng.expovariate(1 / (7 * 86400))) % (30 * 86400))
        received = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "user": None, "status": None,
            # about four alerts per resource, each with another event (the identity stays unique)
            "resource": f"host-{n // 4:07d}", "event": EVENTS[(n // 4 * 7 + n % 4 * 13) % len(EVENTS)],
            "environment": self.pick(ENVIRONMENTS), "severity": severity, "correlate": [],
            "service": rng.sample(SERVICES[: rng.choice((10, 30, 60))], rng.choice((1, 1, 1, 2, 3))),
            "group": rng.choice(("Network", "OS", "Database", "Web", "Misc")), "value": str(rng.randint(0, 100)),
            "text": "threshold exceeded on the monitored resource", "tags": rng.sample(TAGS, rng.randint(0, 3)),
            "attributes": {"region": rng.choice(("eu", "us", "ap"))}, "origin": "bench/query",
            "type": "exceptionAlert", "createTime": at, "timeout": 86400, "rawData": "",
        }
        doc = create(received, at, 100)
        doc["status"] = "closed" if doc["status"] == "closed" else self.pick(ACTIVE_STATUSES)
        doc["duplicateCount"] = int(rng.expovariate(0.5)) if rng.random() < 0.4 else 0
        doc["_v"] = received["id"]
        if rng.random() < 0.2:  # some alerts changed severity a few times
            for step in range(rng.randint(1, 3)):
                entry = dict(doc["history"][-1], type="severity", severity=rng.choice(SEVERITIES),
                             updateTime=at + timedelta(seconds=step + 1))
                doc["history"].append(entry)
            latest = doc["history"][-1]["severity"]
            doc.update(severity=latest, severityCode=severity_code(latest))
        return doc


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


@asynccontextmanager
async def query_service(database_url: str, logs: Path) -> AsyncIterator[str]:
    """The query service as its own process, exactly as ``alertbus query`` runs in production."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "QUERY_PORT": str(port), "LOG_LEVEL": "WARNING",
           "PYTHONUNBUFFERED": "1", "SERVICE_SECRET": SECRET}
    with open(logs / "query.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "services.query"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the query service exited with code {process.returncode}")
            try:
                async with session.get(f"{url}/management/status") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the query service did not start")
            await asyncio.sleep(0.2)


async def seed_to(queries: AlertQueries, alerts: Alerts, target: int) -> float:
    """Insert alerts until ``target`` are stored; returns documents per second."""
    wanted = target - alerts.count
    started = time.perf_counter()
    stream = (alerts.next() for _ in range(wanted))
    await insert_alerts(queries.store, stream)
    elapsed = time.perf_counter() - started
    return wanted / elapsed if elapsed else 0.0


async def build_counters(counters: Counters, stored: int) -> None:
    """What an ingest worker does at start-up: the counters' indexes, and a first build for existing alerts."""
    built = await counters.built()
    started = time.perf_counter()
    await counters.start_up()
    if stored and not built:
        print(f"counters built from {stored:,} alerts in {time.perf_counter() - started:.1f}s", flush=True)


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


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "".join(f"    | {line}\n" for line in text)


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
