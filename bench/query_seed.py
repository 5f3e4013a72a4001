"""The alerts ``python -m bench.query`` seeds: an endless, reproducible stream of stored alert documents with a
realistic spread (environments, the 13 severities, statuses, services, tags, resources, a month of receive times,
some severity changes in history), built by the ingest rules and inserted straight into the store
(``tests.support.seeding.insert_alerts``), with the materialised counters kept as the ingest worker keeps them."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from services.query.reads import AlertQueries
from shared.rules import create
from shared.severity import SEVERITIES, severity_code
from shared.store.counters import Counters
from tests.support.seeding import insert_alerts

ENVIRONMENTS = {"Production": 50, "Development": 25, "Staging": 15, "QA": 10}
SEVERITY_WEIGHTS = {
    "security": 0.5, "critical": 3, "major": 10, "minor": 15, "warning": 20, "indeterminate": 2,
    "informational": 10, "normal": 14, "ok": 8, "cleared": 8, "debug": 4, "trace": 2, "unknown": 3.5,
}
ACTIVE_STATUSES = {"open": 60, "ack": 15, "assign": 3, "shelved": 5, "blackout": 2, "closed": 10, "expired": 5}
SERVICES = [f"svc-{n:02d}" for n in range(60)]
TAGS = [f"tag-{n:02d}" for n in range(30)]
EVENTS = [f"Event{n:03d}" for n in range(200)]


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
