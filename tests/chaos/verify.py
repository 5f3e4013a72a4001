"""The proof, alert by alert: every accepted request is in the store, counted once; no alert is stored twice;
nothing was dead-lettered; once the journals a crash left are recovered, the materialised counters equal an
aggregation over the alerts. And the report row of one fault."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient

from shared.store import Store, database_name
from shared.store.counters import Counters

from .harness import ready_messages
from .load import ENVIRONMENT, Recorder


@dataclass
class Verdict:
    fault: str
    sent: int = 0
    accepted_201: int = 0
    accepted_202: int = 0
    ambiguous: int = 0
    refused: int = 0
    unreachable: int = 0
    errors: int = 0
    alerts: int = 0
    stored: int = 0  # accepted requests whose receive id is in the stored alert
    lost: int = 0
    duplicated_docs: int = 0
    miscounted: int = 0  # alerts whose duplicateCount disagrees with what was applied
    dead_letters: int = 0
    recover: list[str] = field(default_factory=list)  # one "<phase> 2xx X s, drained Y s" per fault injected
    redelivered_skipped: float = 0.0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.accepted_201 + self.accepted_202


async def wait_stored(database_url: str, recorder: Recorder, timeout: float = 90.0) -> float:
    """Until every request accepted so far is applied (its receive id is in its alert): the backlog is gone.
    Returns the time it took."""
    started = time.monotonic()
    pending: dict[str, set[str]] = defaultdict(set)
    for request in list(recorder.requests):
        if request.outcome == "accepted" and request.receive_id:
            pending[request.resource].add(request.receive_id)
    while pending:
        polled = time.monotonic()
        for doc in await stored_alerts(database_url, sorted(pending)):
            ids = pending.get(doc["resource"])
            if ids is not None:
                ids -= set(doc.get("_rids", ()))
                if not ids:
                    del pending[doc["resource"]]
        if not pending:
            break
        if time.monotonic() - started > timeout:
            missing = sum(len(ids) for ids in pending.values())
            raise AssertionError(f"{missing} accepted requests ({len(pending)} alerts) not stored in {timeout:.0f}s")
        # The store serves one query at a time: a poll waits twice what the last one took, so that it never holds
        # the store for more than a third of the time the workers need to store what it waits for.
        await asyncio.sleep(max(0.3, 2 * (time.monotonic() - polled)))
    return time.monotonic() - started


async def wait_empty(prefix: str, amqp_url: str, timeout: float = 30.0) -> dict[str, int]:
    """Until no shard queue has a message ready (the load has stopped); the last counts."""
    started = time.monotonic()
    while True:
        counts = await ready_messages(prefix, amqp_url)
        if all(n == 0 for name, n in counts.items() if ".alertbus.ingest." in name):
            return counts
        if time.monotonic() - started > timeout:
            raise AssertionError(f"shard queues not empty after {timeout:.0f}s: {counts}")
        await asyncio.sleep(0.3)


async def stored_alerts(database_url: str, resources: list[str]) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database_url, tz_aware=True)
    try:
        alerts = client.get_default_database()["alerts"]
        docs: list[dict[str, Any]] = []
        for start in range(0, len(resources), 500):
            chunk = resources[start:start + 500]
            # With the environment, on the identity index: by resource alone SecantusDB scans the collection (17 s
            # for 500 resources among 7,900 alerts on a slow machine, against 0.7 s), and a scan holds the store.
            docs += await alerts.find({"environment": ENVIRONMENT, "resource": {"$in": chunk}},
                                      {"resource": 1, "environment": 1, "event": 1, "duplicateCount": 1,
                                       "_rids": 1, "lastReceiveId": 1}).to_list(None)
        return docs
    finally:
        await client.close()


async def verify(fault: str, recorder: Recorder, database_url: str, prefix: str, amqp_url: str) -> Verdict:
    verdict = Verdict(fault)
    tally = recorder.tally()
    verdict.sent = tally["sent"]
    verdict.accepted_201, verdict.accepted_202 = tally["201"], tally["202"]
    verdict.ambiguous, verdict.refused = tally["ambiguous"], tally["refused"]
    verdict.unreachable, verdict.errors = tally["unreachable"], tally["error"]
    for request in recorder.requests:
        if request.outcome == "error":
            verdict.problems.append(f"{request.resource}: answered {request.status}: {request.detail}")
    ambiguous_kinds = Counter(r.detail for r in recorder.requests if r.outcome == "ambiguous")
    if ambiguous_kinds:
        verdict.notes.append("ambiguous: " + ", ".join(f"{k} {n}" for k, n in ambiguous_kinds.items()))
    per_alert: dict[str, list[Any]] = defaultdict(list)
    for request in recorder.requests:
        per_alert[request.resource].append(request)
    docs = await stored_alerts(database_url, sorted(per_alert))
    by_identity = Counter((d["environment"], d["resource"], d["event"]) for d in docs)
    verdict.duplicated_docs = sum(n - 1 for n in by_identity.values() if n > 1)
    stored = {d["resource"]: d for d in docs}
    verdict.alerts = len(stored)
    for resource, requests in per_alert.items():
        _check_alert(verdict, resource, requests, stored.get(resource))
    verdict.dead_letters = (await ready_messages(prefix, amqp_url))[f"{prefix}alertbus.dead"]
    await _check_counters(verdict, database_url)
    return verdict


RECOVERY_GRACE = 3.0  # seconds: the load has stopped and the queues are drained, so only a crash's journals are older


async def _check_counters(verdict: Verdict, database_url: str) -> None:
    """Recover the journals of batches a fault cut (as the housekeeping schedule would, after its grace), then
    compare every counter with an aggregation over the alerts."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database_url, tz_aware=True)
    try:
        counters = Counters(Store(client, database_name(database_url)))
        recovered = await counters.recover(RECOVERY_GRACE)
        problems = await counters.audit()
    finally:
        await client.close()
    verdict.notes.append(f"counters: {recovered['journals']} journals recovered, {recovered['compensated']} writes "
                         f"taken back; {len(problems) or 'no'} differences from an aggregation")
    verdict.problems += [f"counters: {problem}" for problem in problems]


def _check_alert(verdict: Verdict, resource: str, requests: list[Any], doc: dict[str, Any] | None) -> None:
    accepted = [r.receive_id for r in requests if r.outcome == "accepted"]
    maybe = sum(1 for r in requests if r.outcome in ("ambiguous", "refused", "error"))
    rids = list(doc.get("_rids", ())) if doc else []
    found = [rid for rid in accepted if rid in rids]
    verdict.stored += len(found)
    lost = len(accepted) - len(found)
    verdict.lost += lost
    if lost:
        verdict.problems.append(f"{resource}: {lost} of {len(accepted)} accepted requests not stored")
    if doc is None:
        return
    count = doc.get("duplicateCount", 0)
    if len(set(rids)) != len(rids) or len(rids) != count + 1:
        verdict.miscounted += 1
        verdict.problems.append(f"{resource}: duplicateCount {count} but {len(rids)} receive ids applied")
    elif maybe == 0 and count != len(accepted) - 1:
        verdict.miscounted += 1
        verdict.problems.append(f"{resource}: duplicateCount {count}, expected {len(accepted) - 1}")
    elif not len(accepted) - 1 <= count <= len(accepted) + maybe - 1:
        verdict.miscounted += 1
        verdict.problems.append(
            f"{resource}: duplicateCount {count} outside [{len(accepted) - 1}, {len(accepted) + maybe - 1}]")


HEADER = (f"{'fault':<44} {'sent':>6} {'201':>6} {'202':>6} {'ambig':>6} {'503':>5} {'unreach':>7} {'err':>4} "
          f"{'alerts':>6} {'stored':>6} {'lost':>5} {'dupdoc':>6} {'miscnt':>6} {'dead':>5} {'redeliv':>7}")


def row(v: Verdict) -> str:
    line = (f"{v.fault:<44} {v.sent:>6} {v.accepted_201:>6} {v.accepted_202:>6} {v.ambiguous:>6} {v.refused:>5} "
            f"{v.unreachable:>7} {v.errors:>4} {v.alerts:>6} {v.stored:>6} {v.lost:>5} {v.duplicated_docs:>6} "
            f"{v.miscounted:>6} {v.dead_letters:>5} {v.redelivered_skipped:>7.0f}")
    extra = [f"    recovery: {r}" for r in v.recover] + [f"    {n}" for n in v.notes]
    return "\n".join([line, *extra])


def report(verdicts: list[Verdict]) -> str:
    legend = ("sent: requests; 201/202: accepted; ambig: no answer (may or may not be applied); 503: refused; "
              "unreach: connection refused (nothing sent); err: other answers; stored: accepted requests found "
              "in their alert; lost: accepted but not stored; dupdoc: second documents for one alert; miscnt: "
              "alerts whose duplicateCount disagrees with the requests applied; dead: dead letters; redeliv: "
              "redelivered messages recognised and skipped by the running workers")
    return "\n".join([HEADER, *(row(v) for v in verdicts), legend])
