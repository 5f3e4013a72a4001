"""Hostile input through every door (tests/fuzz_hostile.py generates it), against a small stack of its own:
HTTP requests sent byte for byte (paths not normalised, headers not re-encoded) and AMQP messages published
straight to the ingest exchange, poison mixed with valid alerts. The promises: no answer >= 500, every refusal a
4xx JSON error, no request slower than ``FUZZ_MAX_SECONDS``, nothing readable without a key through a dotted
path, every alert answered 201/202 stored, every valid message stored and only the poison dead-lettered.

``make test`` runs a few hundred requests; ``make fuzz`` runs ``FUZZ_REQUESTS`` (10,000) and reports."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aio_pika
import pytest
import pytest_asyncio

from shared.broker import Names

from .fuzz_hostile import VALID_ALERT, Hostile, Request
from .support import ADMIN_KEY, Stack, eventually, start_stack

REQUESTS = int(os.environ.get("FUZZ_REQUESTS", "400"))
MESSAGES = int(os.environ.get("FUZZ_MESSAGES", "60"))
SEED = int(os.environ.get("FUZZ_SEED", "20261206"))
MAX_SECONDS = float(os.environ.get("FUZZ_MAX_SECONDS", "2.0"))
ANSWER_SECONDS = 15.0
PARSER_LINE_LIMIT = 8190 - len("GET  HTTP/1.1")  # SERVER_OPTIONS["max_line_size"]
LEAKS = (b'"alerts":[{', b'"heartbeats":[{', b'"alert":{', b'"history":[{')


@dataclass
class Report:
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    slowest: float = 0.0
    accepted: list[str] = field(default_factory=list)  # ids of alerts answered 201/202
    bodies: dict[str, str] = field(default_factory=dict)  # what each accepted alert was, to report a loss

    def problem(self, request: Request, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(f"{request.kind} {request.method} {request.path[:200]!r}: {text}")


@pytest_asyncio.fixture(scope="module")
async def hostile_stack(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url, RPC_TIMEOUT="5") as stack:
        yield stack


async def exchange(port: int, request: Request) -> tuple[int, dict[str, str], bytes]:
    """One request on a connection of its own, exactly as given; the status, headers and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [f"{request.method} {request.path} HTTP/1.1".encode("utf-8", "surrogatepass"), b"Host: fuzz",
                b"Connection: close"]
        headers = dict(request.headers)
        if request.keyed:
            headers["Authorization"] = f"Key {ADMIN_KEY}"
        head += [f"{name}: {value}".encode() for name, value in headers.items()]
        head += [name + b": " + value for name, value in request.raw_headers]
        if request.body is not None:
            head.append(f"Content-Length: {len(request.body)}".encode())
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + (request.body or b""))
        try:
            answer = await asyncio.wait_for(reader.read(), ANSWER_SECONDS)
        except TimeoutError:
            return 0, {}, b"no complete answer in time"
    finally:
        writer.close()
    top, _, body = answer.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, fields, body


def check(report: Report, request: Request, status: int, headers: dict[str, str], body: bytes) -> None:
    if status == 0 or status >= 500:
        report.problem(request, f"-> {status} {body[:300]!r}")
    elif status >= 400:
        parsed: object = None
        try:
            parsed = json.loads(body)
        except ValueError:
            pass
        # aiohttp's own HTTP parser answers a request head it cannot parse or that is longer than its line limit
        # (in plain text), before any middleware runs.
        parser_refusal = status == 400 and (bool(request.raw_headers) or len(request.path) > PARSER_LINE_LIMIT)
        if not (isinstance(parsed, dict) and parsed.get("status") == "error") and not parser_refusal:
            report.problem(request, f"-> {status} without a JSON error: {body[:200]!r}")
    if request.kind == "dots" and not request.keyed and (status < 400 or any(leak in body for leak in LEAKS)):
        report.problem(request, f"-> {status} read without a key: {body[:200]!r}")
    if request.kind == "alert" and status in (201, 202):
        try:
            ident = json.loads(body)["id"]
            report.accepted.append(ident)
            report.bodies[ident] = f"{status} {request.headers.get('Prefer', '')} {(request.body or b'')[:300]!r}"
        except (ValueError, KeyError) as exc:
            report.problem(request, f"-> {status} without an id: {exc!r}")


async def run_requests(stack: Stack, count: int, alert_ids: list[str]) -> Report:
    report = Report()
    hostile = Hostile(SEED, alert_ids)
    for _ in range(count):
        request = hostile.request()
        started = time.perf_counter()
        status, headers, body = await exchange(stack.settings.gateway.port, request)
        elapsed = time.perf_counter() - started
        report.slowest = max(report.slowest, elapsed)
        if elapsed > MAX_SECONDS:
            report.problem(request, f"took {elapsed:.2f} s")
        report.statuses[status] += 1
        report.kinds[request.kind] += 1
        check(report, request, status, headers, body)
    return report


@pytest.mark.timeout(120 + REQUESTS)
async def test_hostile_requests_get_4xx_never_5xx_and_lose_nothing(
        hostile_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    stack = hostile_stack
    ids = []
    for n in range(3):
        status, body = await stack.post_alert({**VALID_ALERT, "resource": f"fuzz-target-{n}"})
        assert status == 201
        ids.append(body["id"])
    started = time.perf_counter()
    report = await run_requests(stack, REQUESTS, ids)
    seconds = time.perf_counter() - started

    wanted = set(report.accepted)
    found: set[str] = set()

    async def all_stored() -> bool:
        # The id of a 201 is the alert's; that of a 202 its receive id (kept in _keys, and in _rids once a later
        # duplicate took its place).
        query = {"$or": [{"_keys": {"$in": list(wanted)}}, {"_rids": {"$in": list(wanted)}}]}
        async for doc in stack.store.alerts.find(query, {"_keys": 1, "_rids": 1}):
            found.update(wanted & {*doc.get("_keys", []), *doc.get("_rids", [])})
        return found == wanted

    try:
        await eventually(all_stored, timeout=60)
    except AssertionError:
        lost = [report.bodies[ident] for ident in wanted - found]
        raise AssertionError(f"{len(lost)} of {len(wanted)} accepted alerts are not stored: {lost[:5]}") from None
    with capsys.disabled():
        print(f"\nfuzz (hostile): {sum(report.statuses.values())} requests in {seconds:.1f} s, kinds "
              f"{dict(sorted(report.kinds.items()))}, statuses {dict(sorted(report.statuses.items()))}, "
              f"slowest {report.slowest:.2f} s, {len(report.accepted)} alerts accepted (all stored), "
              f"{len(report.problems)} problems")
    for problem in report.problems[:15]:
        print(problem[:600])
    assert not report.problems, report.problems[:15]
    assert stack.workers[0].lane_tasks and not any(t.done() for t in stack.workers[0].lane_tasks), "a lane died"


@pytest.mark.timeout(120 + MESSAGES)
async def test_poison_messages_are_dead_lettered_alone(hostile_stack: Stack,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    stack = hostile_stack
    names = Names.from_settings(stack.settings)
    hostile = Hostile(SEED + 1, [])
    channel = await stack.connection.channel(publisher_confirms=True)
    exchange_ = await channel.get_exchange(names.ingest)
    valid: list[str] = []
    poison: set[str] = set()
    run = uuid.uuid4().hex[:8]
    for n in range(MESSAGES):
        # Poison and valid alerts of the same group in the same shard, interleaved: one batch holds both.
        routing = f"Production/fuzz-amqp-{run}-{n % 7}"
        if n % 3 == 0:
            body, kind, headers = hostile.bad_message()
            message_id = f"poison-{run}-{n}"
            poison.add(message_id)
        else:
            resource = f"fuzz-amqp-{run}-{n}"
            body, kind, headers = json.dumps({**VALID_ALERT, "resource": resource}).encode(), "alert", {}
            message_id = f"valid-{run}-{n}"
            valid.append(resource)
        await exchange_.publish(aio_pika.Message(body, message_id=message_id, type=kind, headers=headers,
                                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                routing_key=routing)
    await channel.close()

    async def stored() -> bool:
        return await stack.store.alerts.count_documents({"resource": {"$in": valid}}) == len(valid)

    await eventually(stored, timeout=60)
    dead: set[str] = set()
    channel = await stack.connection.channel()
    queue = await channel.declare_queue(names.dead, passive=True)

    async def all_dead() -> bool:
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            dead.add(message.message_id or "")
        return poison <= dead

    await eventually(all_dead, timeout=60)
    await channel.close()
    with capsys.disabled():
        print(f"\nfuzz (AMQP): {MESSAGES} messages, {len(valid)} valid all stored, {len(poison)} poison all "
              f"dead-lettered, {len(dead - poison)} others dead-lettered")
    assert not {d for d in dead if d.startswith("valid-")}, "a valid message was dead-lettered"
