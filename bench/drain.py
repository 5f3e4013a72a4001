"""Drain check of the 202 path: how long after the last 202 is every accepted alert stored?

Exact, because of how the load is built (``load.py``): each group's requests are sent one after another,
so the broker holds them in the client's order and alertbus applies them in that order. A stored alert
whose ``lastReceiveId`` is the receive id of its group's *last* accepted request therefore proves that
every request of that group was applied (a create sets ``lastReceiveId`` = its own receive id too). The
backlog is drained when that holds for every group — and a server that lost or reordered a message would
never pass.

Checking thousands of ids costs the store work, and the store is what is being measured. So:

1. wait: poll only the tail (the groups sent last) every ``POLL`` s until all of it is stored — cheap;
2. verify: look up every group's last id once, and poll any still missing until found;
3. time: the drain is the later of (a) when step 1/2 saw the last id stored and (b) the newest
   ``lastReceiveTime`` among the groups (the server's clock when it applied the last message), so a group
   stored after the tail was seen but before step 2 reached it still counts at its true time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import aiohttp
from pymongo import AsyncMongoClient

POLL = 0.1  # seconds between polls
FIELDS = {"lastReceiveId": 1, "lastReceiveTime": 1, "severity": 1, "duplicateCount": 1}


class Stored(NamedTuple):
    """What the check reads of a group's alert: when it was last applied, and enough of its state to tell
    whether every request was applied once (the client knows what severity and duplicateCount to expect)."""

    at: datetime
    severity: str
    duplicates: int


class Expected(NamedTuple):
    ident: str  # the group's last accepted receive id
    severity: str
    duplicates: int


class Probe(Protocol):
    method: str
    tail: int  # ids polled while waiting
    chunk: int  # ids per lookup when verifying

    async def stored(self, ids: list[str]) -> dict[str, Stored]:
        """The ids that are some alert's lastReceiveId, with that alert's state."""
        ...

    async def close(self) -> None: ...


class StoreProbe:
    """Asks the database directly (the bench's own stack): one indexed ``$in`` query per lookup."""

    method = "store: lastReceiveId of every group = its last accepted receive id"
    tail, chunk = 32, 1000

    def __init__(self, database_url: str) -> None:
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database_url, tz_aware=True)
        self.alerts = self.client.get_default_database()["alerts"]

    async def stored(self, ids: list[str]) -> dict[str, Stored]:
        # On the multikey lookup index (``_keys`` holds each alert's id and lastReceiveId, see
        # shared/store/core.py); an alert found by its own id only is left out below.
        cursor = self.alerts.find({"_keys": {"$in": ids}}, FIELDS)
        wanted = set(ids)
        return {doc["lastReceiveId"]: Stored(_utc(doc["lastReceiveTime"]), doc.get("severity", ""),
                                             doc.get("duplicateCount", -1))
                async for doc in cursor if doc.get("lastReceiveId") in wanted}

    async def close(self) -> None:
        await self.client.close()


class HttpProbe:
    """Asks the public API (``--url``): ``GET /alert/{id}`` finds an alert by id or lastReceiveId."""

    method = "GET /alert/{id}: lastReceiveId of every group = its last accepted receive id"
    tail, chunk = 8, 256

    def __init__(self, session: aiohttp.ClientSession, url: str, key: str | None, concurrency: int) -> None:
        self.session, self.url = session, url.rstrip("/")
        self.headers = {"Authorization": f"Key {key}"} if key else {}
        self.gate = asyncio.Semaphore(concurrency)

    async def _one(self, ident: str) -> Stored | None:
        async with self.gate:
            try:
                async with self.session.get(f"{self.url}/alert/{ident}", headers=self.headers) as response:
                    body = await response.json(content_type=None) if response.status == 200 else {}
            except (TimeoutError, aiohttp.ClientError, ValueError):
                return None
        alert = (body or {}).get("alert") or {}
        if alert.get("lastReceiveId") != ident:
            return None
        at = _utc(datetime.fromisoformat(str(alert["lastReceiveTime"]).replace("Z", "+00:00")))
        return Stored(at, alert.get("severity", ""), alert.get("duplicateCount", -1))

    async def stored(self, ids: list[str]) -> dict[str, Stored]:
        answers = await asyncio.gather(*(self._one(ident) for ident in ids))
        return {ident: found for ident, found in zip(ids, answers, strict=True) if found is not None}

    async def close(self) -> None:
        pass


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class Drain:
    seconds: float  # the drain time (see the module docstring, step 3)
    observed: float  # from the last 202 until the bench saw everything stored
    applied: float  # from the last 202 until the server applied the last message (its lastReceiveTime)
    missing: int  # groups not stored at the timeout (0 = complete)
    wrong: int  # groups stored with another severity or duplicateCount than the requests must produce


async def _wait_tail(probe: Probe, ids: list[str], deadline: float) -> None:
    tail = ids[-probe.tail:]
    while tail and time.perf_counter() < deadline:
        seen = await probe.stored(tail)
        tail = [ident for ident in tail if ident not in seen]
        if tail:
            await asyncio.sleep(POLL)


async def _lookup(probe: Probe, ids: list[str]) -> dict[str, Stored]:
    found: dict[str, Stored] = {}
    for start in range(0, len(ids), probe.chunk):
        found.update(await probe.stored(ids[start:start + probe.chunk]))
    return found


async def wait_drained(probe: Probe, groups: list[Expected], sent_at: float, timeout: float,
                       on_tail: Callable[[], None] | None = None) -> Drain:
    """``groups``: every group's last accepted request, oldest first; ``sent_at``: ``time.time()`` of the
    last 202; ``on_tail`` is called when the tail is stored, before the verification adds its own load."""
    ids = [group.ident for group in groups]
    deadline = time.perf_counter() + timeout
    await _wait_tail(probe, ids, deadline)
    if on_tail is not None:
        on_tail()
    seen_at = time.time()
    found = await _lookup(probe, ids)
    pending = [ident for ident in ids if ident not in found]
    while pending and time.perf_counter() < deadline:
        await asyncio.sleep(POLL)
        found.update(await _lookup(probe, pending))
        pending = [ident for ident in pending if ident not in found]
        seen_at = time.time()  # some were missing after the tail was seen: the drain ends later
    applied = max(f.at for f in found.values()).timestamp() - sent_at if found else 0.0
    observed = seen_at - sent_at
    wrong = sum(1 for g in groups if g.ident in found
                and (found[g.ident].severity, found[g.ident].duplicates) != (g.severity, g.duplicates))
    return Drain(max(observed, applied), observed, applied, len(pending), wrong)
