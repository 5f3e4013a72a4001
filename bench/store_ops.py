"""``python -m bench.store_ops``: what one write of each kind the ingest sends costs the embedded store (SecantusDB),
in the store process' own CPU time, with alertbus' real indexes and a collection of ``--alerts`` alerts.

A batch's ``bulkWrite`` (shared/store/batch.py) holds one write per alert: an insert for a new alert, a swap for
a changed one (a replace conditional on the version token, ``batch.swap``), and a few ``$inc`` updates of counter
documents per batch. Whatever the ingest does around them, an alert cannot cost the store less than its write, so
this is the floor under the store's CPU per alert on the write path. Printed per kind: the median over ``--rounds``
bulk writes of ``--ops`` writes each, the kinds interleaved round by round so that the machine's drift hits all
alike. For comparison: the same condition as a replace filtered on ``{_id, _v}`` (what the ingest sent before the
swap), and a replace by ``_id`` with no condition at all.

Only the embedded store: the CPU time of a server elsewhere cannot be read from here.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, InsertOne, ReplaceOne, UpdateOne

from services.embedded import EmbeddedStore
from shared.store import Store
from shared.store.batch import swap
from shared.store.core import new_token, stored
from shared.store.counters import Counters

from .cpu import process_seconds

Op = InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]] | UpdateOne


def alert(n: int, run: str) -> dict[str, Any]:
    """An alert document as the ingest stores one (a new alert with its first history entry)."""
    now = datetime.now(UTC)
    ident = str(uuid.uuid4())
    doc = {"_id": ident, "resource": f"{run}-{n}", "event": "HttpError", "environment": "Production",
           "severity": "major", "severityCode": 3, "status": "open", "service": ["web"], "group": "Web",
           "value": "500", "text": "x" * 40, "tags": ["a", "b"], "attributes": {"region": "eu"}, "origin": "bench",
           "type": "exceptionAlert", "createTime": now, "timeout": 86400, "rawData": "", "customer": None,
           "duplicateCount": 0, "repeat": False, "previousSeverity": "indeterminate", "trendIndication": "moreSevere",
           "receiveTime": now, "lastReceiveId": ident, "lastReceiveTime": now, "updateTime": now,
           "history": [{"id": ident, "event": "HttpError", "severity": "major", "status": "open", "value": "500",
                        "text": "x" * 40, "type": "severity", "updateTime": now, "user": None, "timeout": 86400}],
           "_v": new_token()}
    return stored(doc)


def duplicate(doc: dict[str, Any]) -> dict[str, Any]:
    """The document after one more duplicate: what a replace writes."""
    now, receive = datetime.now(UTC), str(uuid.uuid4())
    return stored({**doc, "duplicateCount": doc["duplicateCount"] + 1, "repeat": True, "receiveTime": now,
                   "lastReceiveTime": now, "lastReceiveId": receive, "_v": new_token()})


class Kinds:
    """The writes measured; each call builds one round's operations and keeps ``docs`` current."""

    def __init__(self, docs: list[dict[str, Any]], run: str) -> None:
        self.docs, self.run, self.next, self.new = docs, run, 0, 0

    def _take(self) -> tuple[int, dict[str, Any]]:
        index = self.next % len(self.docs)
        self.next += 1
        return index, self.docs[index]

    def insert(self, ops: int) -> list[Op]:
        self.new += ops
        return [InsertOne(alert(self.new + n, f"{self.run}-new")) for n in range(ops)]

    def replace(self, ops: int, form: str) -> list[Op]:
        out: list[Op] = []
        for _ in range(ops):
            index, doc = self._take()
            new = self.docs[index] = duplicate(doc)
            if form == "swap":
                out.append(UpdateOne({"_id": doc["_id"]}, swap(doc["_v"], new)))
            else:
                out.append(ReplaceOne({"_id": doc["_id"], "_v": doc["_v"]} if form == "filter" else {"_id": doc["_id"]},
                                      new))
        return out

    def counter(self, ops: int) -> list[Op]:
        return [UpdateOne({"_id": f"bench-counter-{n % 4}"}, {"$inc": {"n.open.major": 1}}, upsert=True)
                for n in range(ops)]


async def measure(store: Store, pid: int, alerts: int, ops: int, rounds: int) -> dict[str, float]:
    run = uuid.uuid4().hex[:6]
    docs = [alert(n, run) for n in range(alerts)]
    for start in range(0, alerts, 500):
        await store.alerts.insert_many(docs[start:start + 500])
    kinds = Kinds(docs, run)
    plans: dict[str, tuple[Any, Callable[[int], list[Op]]]] = {
        "insert (a new alert)": (store.alerts, kinds.insert),
        "swap (a changed alert)": (store.alerts, lambda n: kinds.replace(n, "swap")),
        "replace filtered on {_id, _v}": (store.alerts, lambda n: kinds.replace(n, "filter")),
        "replace {_id}, no version check": (store.alerts, lambda n: kinds.replace(n, "plain")),
        "$inc of a counter document": (store.db["bench_counters"], kinds.counter),
    }
    costs: dict[str, list[float]] = {name: [] for name in plans}
    for _ in range(rounds):
        for name, (collection, build) in plans.items():
            batch = build(ops)
            before = process_seconds(pid) or 0.0
            result = await collection.bulk_write(batch, ordered=True)
            if result.inserted_count + result.modified_count + result.upserted_count < ops:
                raise SystemExit(f"{name}: {ops - result.inserted_count - result.modified_count} writes did not apply")
            costs[name].append(((process_seconds(pid) or 0.0) - before) * 1000 / ops)
    return {name: statistics.median(values) for name, values in costs.items()}


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store_ops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=3000, help="alerts in the collection first (default 3000)")
    parser.add_argument("--ops", type=int, default=60, help="writes per bulk write (default 60)")
    parser.add_argument("--rounds", type=int, default=15, help="bulk writes per kind (default 15)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-store-ops-") as tmp:
        embedded = EmbeddedStore(str(Path(tmp) / "store"))
        url = await embedded.start()
        try:
            assert embedded.process is not None
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
            store = Store(client, "bench_store_ops")
            await store.ensure_indexes()
            await Counters(store).start_up()
            indexes = len(await store.alerts.index_information())
            costs = await measure(store, embedded.process.pid, args.alerts, args.ops, args.rounds)
            await client.close()
        finally:
            embedded.stop()
    print(f"SecantusDB, {args.alerts} alerts, {indexes} indexes on alerts (with _id); median of {args.rounds} bulk "
          f"writes of {args.ops}")
    for name, ms in costs.items():
        print(f"  {name:<38} {ms:5.2f} ms of store CPU per write")


if __name__ == "__main__":
    asyncio.run(main())
