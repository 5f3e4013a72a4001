"""The load: a mix of new alerts, duplicates and severity changes, sent by N concurrent senders.

Every request targets an alert group (one resource) that has no other request in flight. So each group's
requests reach the server in the client's order, the client knows exactly what the stored alert must
look like after each of them (severity, duplicateCount), and for the 202 path the last accepted receive
id of every group is known: the drain check relies on that (see ``drain.py``).
"""

from __future__ import annotations

import asyncio
import errno
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .drain import Expected

NEW, DUPLICATE, SEVERITY = "new", "duplicate", "severity"
SEVERITIES = ("critical", "major", "minor", "warning")  # all "open" severities: no change closes an alert
RECENT = 2000  # repeats go to recently created alerts, as a monitor re-sends what it raised lately


@dataclass
class Group:
    resource: str
    severity: str = "major"
    duplicates: int = 0
    last_id: str | None = None
    last_serial: int = 0
    busy: bool = False
    broken: bool = False  # a request failed, its effect is unknown: never reused nor checked


@dataclass
class Request:
    kind: str
    group: Group
    severity: str
    serial: int
    body: bytes


class Mix:
    """Chooses the next request: ~40 % new alerts, ~40 % duplicates, ~20 % severity changes."""

    def __init__(self, name: str, seed: int, new: float = 0.4, duplicate: float = 0.4) -> None:
        self.name = name
        self.rng = random.Random(seed)
        self.shares = (new, new + duplicate)
        self.groups: list[Group] = []
        self.serial = 0

    def next(self) -> Request:
        self.serial += 1
        roll = self.rng.random()
        kind = NEW if roll < self.shares[0] else DUPLICATE if roll < self.shares[1] else SEVERITY
        group = None if kind == NEW else self._pick()
        if group is None:  # nothing idle to repeat yet (the first requests): a new alert instead
            kind, group = NEW, Group(f"{self.name}-{len(self.groups)}")
            self.groups.append(group)
        severity = group.severity
        if kind == SEVERITY:
            severity = self.rng.choice([s for s in SEVERITIES if s != group.severity])
        group.busy = True
        body = {
            "resource": group.resource, "event": "BenchLoad", "environment": "Production",
            "severity": severity, "service": ["bench"], "group": "Bench",
            # A new value each time: what a monitor sends, and it makes every request a real change.
            "value": str(self.serial), "text": f"bench load {kind}", "origin": "bench",
        }
        return Request(kind, group, severity, self.serial, json.dumps(body).encode())

    def _pick(self) -> Group | None:
        recent = self.groups[-RECENT:]
        for _ in range(8):
            group = self.rng.choice(recent) if recent else None
            if group is not None and not group.busy and not group.broken:
                return group
        return None

    def accepted(self) -> list[Expected]:
        """Every group's last accepted receive id and the state it must be stored in, oldest first."""
        groups = sorted((g for g in self.groups if g.last_id and not g.broken), key=lambda g: g.last_serial)
        return [Expected(g.last_id, g.severity, g.duplicates) for g in groups if g.last_id]


@dataclass
class Result:
    name: str
    target: str
    path: str  # "201" (synchronous) or "202" (Prefer: respond-async)
    statuses: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    wrong: int = 0  # 201 answers (202 path: stored alerts) not in the state the requests must produce
    elapsed: float = 0.0
    client_cpu: float = 0.0
    ended: float = 0.0  # time.time() when the last answer arrived
    drain: float | None = None  # 202 path: seconds until everything accepted was stored (drain.py)
    drain_observed: float = 0.0
    drain_applied: float = 0.0
    drain_method: str = ""
    drain_missing: int = 0
    groups: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # share of one core per process (cpu.py)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for code, n in self.statuses.items() if code.isdigit() and 200 <= int(code) < 300)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else 0.0


class Load:
    """Sends ``requests`` requests (or for ``duration`` seconds) with ``concurrency`` senders."""

    def __init__(self, session: aiohttp.ClientSession, url: str, key: str | None, mix: Mix,
                 concurrency: int, requests: int | None, duration: float | None, respond_async: bool) -> None:
        self.session, self.mix = session, mix
        self.url = url.rstrip("/") + "/alert"
        self.headers = {"Content-Type": "application/json"}
        if key:
            self.headers["Authorization"] = f"Key {key}"
        if respond_async:
            self.headers["Prefer"] = "respond-async"
        self.concurrency, self.limit, self.duration = concurrency, requests, duration
        self.started = 0
        self.deadline = 0.0

    async def run(self, result: Result) -> Result:
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + self.duration if self.duration else float("inf")
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(self._sender(result) for _ in range(self.concurrency)))
        result.elapsed = time.perf_counter() - wall
        result.ended = time.time()
        result.client_cpu = time.process_time() - cpu
        result.groups = len(self.mix.groups)
        return result

    def _more(self) -> bool:
        if self.limit is not None and self.started >= self.limit:
            return False
        return asyncio.get_running_loop().time() < self.deadline

    async def _sender(self, result: Result) -> None:
        while self._more():
            self.started += 1
            request = self.mix.next()
            began = time.perf_counter()
            status, answer = await self._post(request)
            result.latencies.append(time.perf_counter() - began)
            result.statuses[status] += 1
            result.kinds[request.kind] += 1
            self._record(request, status, answer, result)

    async def _post(self, request: Request) -> tuple[str, dict[str, Any] | None]:
        try:
            async with self.session.post(self.url, data=request.body, headers=self.headers) as response:
                raw = await response.read()
                status = str(response.status)
        except (TimeoutError, aiohttp.ClientError) as exc:
            return _error_name(exc), None
        try:
            answer = json.loads(raw) if status.startswith("2") else None
        except ValueError:
            return f"{status}-not-json", None
        return status, answer if isinstance(answer, dict) else None

    def _record(self, request: Request, status: str, answer: dict[str, Any] | None, result: Result) -> None:
        group = request.group
        group.busy = False
        expected = group.duplicates + 1 if request.kind == DUPLICATE else 0
        if status not in ("201", "202") or answer is None:
            group.broken = True  # unknown whether it was applied: leave this group alone from now on
            return
        if status == "201":
            alert = answer.get("alert") or {}
            if alert.get("severity") != request.severity or alert.get("duplicateCount") != expected:
                result.wrong += 1
        group.severity, group.duplicates = request.severity, expected
        group.last_id, group.last_serial = str(answer.get("id") or ""), request.serial


def _error_name(exc: BaseException) -> str:
    """``ClientConnectorError:ECONNREFUSED`` tells a dead server from a client out of ports (EADDRNOTAVAIL)."""
    code = getattr(exc, "errno", None)
    return f"{type(exc).__name__}:{errno.errorcode.get(code, code)}" if code else type(exc).__name__
