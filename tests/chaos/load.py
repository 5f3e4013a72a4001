"""A steady load of distinct alerts and duplicates through the gateway, every answer recorded.

Each alert is one resource with one event and one severity, so that every further request for it is a
duplicate (never a correlation): its stored ``duplicateCount`` must be the number of its requests that were
applied, minus one. Half of the requests (``async_share``) ask for ``Prefer: respond-async`` (202 as soon as the
broker confirmed), the others wait for the worker (201). An alert gets at most ``MAX_SENDS`` requests, fewer than
the 100 receive ids a stored alert remembers, so every applied request's receive id can be found in it.

Outcomes:

* ``accepted`` — 201 (receive id: ``alert.lastReceiveId``) or 202 (receive id: ``id``): must be stored;
* ``refused`` — 503: not accepted. It may still have reached the broker (a confirmation lost with the
  connection), so it may or may not be applied;
* ``unreachable`` — the connection was refused: nothing was sent;
* ``ambiguous`` — no answer (the connection dropped mid-request, or the client timed out): may or may not be
  applied;
* ``error`` — any other answer (a 4xx, a 500): a bug, whatever happened to the message.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .harness import RPC_TIMEOUT

MAX_SENDS = 40
SEVERITIES = ("critical", "major", "minor", "warning")
CLIENT_TIMEOUT = RPC_TIMEOUT + 10  # an answer later than this is a hang


ENVIRONMENT = "Production"  # of every alert of the load: verify.py reads them on the identity index by it

@dataclass
class Request:
    resource: str
    wants_async: bool
    sent: float
    done: float = 0.0
    status: int | None = None
    outcome: str = ""  # accepted | refused | unreachable | ambiguous | error
    receive_id: str | None = None
    detail: str = ""


@dataclass
class Recorder:
    run: str
    requests: list[Request] = field(default_factory=list)
    sends: Counter[str] = field(default_factory=Counter)  # requests per resource

    def resource(self, index: int) -> str:
        return f"{self.run}-{index:05d}"

    @staticmethod
    def body(resource: str, index: int, value: int) -> dict[str, Any]:
        return {"resource": resource, "event": "ChaosProbe", "environment": ENVIRONMENT,
                "severity": SEVERITIES[index % len(SEVERITIES)], "service": ["chaos"], "group": "Chaos",
                "text": f"chaos load on {resource}", "value": str(value), "origin": "chaos/load"}

    def tally(self, since: float = 0.0) -> Counter[str]:
        counts: Counter[str] = Counter()
        for request in self.requests:
            if request.sent < since:
                continue
            counts["sent"] += 1
            counts[request.outcome] += 1
            if request.outcome == "accepted":
                counts[str(request.status)] += 1
        return counts


class Load:
    """Sends ``rate`` requests a second (at most ``concurrency`` in flight) until stopped."""

    def __init__(self, url: str, key: str, recorder: Recorder, rate: float = 80.0, concurrency: int = 24,
                 new_share: float = 0.35, async_share: float = 0.5) -> None:
        self.url, self.key, self.recorder = url, key, recorder
        self.rate, self.concurrency, self.new_share, self.async_share = rate, concurrency, new_share, async_share
        self.open: list[int] = []  # indexes of alerts that may get more requests
        self.created = 0
        self.random = random.Random(7)
        self.stopped = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="chaos-load")

    async def stop(self) -> None:
        self.stopped.set()
        if self.task is not None:
            await self.task

    def _pick(self) -> int:
        if not self.open or self.random.random() < self.new_share:
            self.created += 1
            self.open.append(self.created)
            return self.created
        return self.random.choice(self.open)

    async def _run(self) -> None:
        connector = aiohttp.TCPConnector(limit=self.concurrency, force_close=True)
        timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
        slots = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()

        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            slots.release()

        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            interval, next_at = 1.0 / self.rate, time.monotonic()
            while not self.stopped.is_set():
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                await slots.acquire()
                wants_async = self.random.random() < self.async_share
                task = asyncio.create_task(self._send_one(session, self._pick(), wants_async))
                tasks.add(task)
                task.add_done_callback(done)
            await asyncio.gather(*tasks)

    async def _send_one(self, session: aiohttp.ClientSession, index: int, wants_async: bool) -> None:
        resource = self.recorder.resource(index)
        self.recorder.sends[resource] += 1
        if self.recorder.sends[resource] >= MAX_SENDS and index in self.open:
            self.open.remove(index)
        await send(session, self.url, self.key, self.recorder, resource, index, wants_async)


async def send(session: aiohttp.ClientSession, url: str, key: str, recorder: Recorder, resource: str, index: int,
               wants_async: bool) -> Request:
    request = Request(resource, wants_async, time.monotonic())
    recorder.requests.append(request)
    headers = {"Authorization": f"Key {key}"}
    if wants_async:
        headers["Prefer"] = "respond-async"
    body = Recorder.body(resource, index, len(recorder.requests))
    try:
        async with session.post(url + "/alert", json=body, headers=headers) as response:
            request.status = response.status
            answer = await response.json(content_type=None)
    except aiohttp.ClientConnectorError as exc:
        request.outcome, request.detail = "unreachable", type(exc).__name__
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        request.outcome, request.detail = "ambiguous", type(exc).__name__
    else:
        request.outcome, request.receive_id = classify(request.status, answer)
        if request.outcome != "accepted":
            request.detail = str(answer.get("message") if isinstance(answer, dict) else answer)[:200]
    request.done = time.monotonic()
    return request


def classify(status: int, answer: Any) -> tuple[str, str | None]:
    if status == 201 and isinstance(answer, dict):
        return "accepted", answer["alert"]["lastReceiveId"]
    if status == 202 and isinstance(answer, dict):
        return "accepted", answer["id"]
    if status == 503:
        return "refused", None
    return "error", None
