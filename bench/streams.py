"""``python -m bench.streams``: how many console streams (``GET /stream``) one gateway process holds.

Starts alertbus as separate processes (the gateway alone in its process, so its memory is its own), opens
``--streams`` Server-Sent-Event streams with one aiohttp client, posts ``--alerts`` alerts and checks that every
stream received every one; prints the gateway's resident memory before and after, and the delivery times.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import aiohttp

from tests.support.processes import ProcessStack


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def listen(resp: aiohttp.ClientResponse, tag: str, expected: int, seen: list[float]) -> None:
    """Until ``expected`` created-alert events of resources starting with ``tag`` arrived; the arrival time."""
    got = 0
    while got < expected:
        line = await resp.content.readline()
        if not line:
            raise EOFError("a stream ended")
        if line.startswith(b"data: ") and b'"event":"created"' in line and tag.encode() in line:
            got += 1
    seen.append(time.perf_counter())


async def measure(url: str, key: str, pid: int, streams: int, alerts: int) -> None:
    headers = {"Authorization": f"Key {key}"}
    before = rss_mb(pid)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     timeout=aiohttp.ClientTimeout(total=None, sock_read=120)) as session:
        started = time.perf_counter()
        opened: list[aiohttp.ClientResponse] = []
        for start in range(0, streams, 200):  # in waves, as browsers arrive
            batch = await asyncio.gather(*(session.get(url + "/stream", headers=headers)
                                           for _ in range(min(200, streams - start))))
            assert all(r.status == 200 for r in batch), {r.status for r in batch}
            for resp in batch:
                await resp.content.readline()  # retry:
            opened += batch
        print(f"opened {len(opened)} streams in {time.perf_counter() - started:.1f} s")
        await asyncio.sleep(1)
        idle = rss_mb(pid)
        tag = f"streams-{int(time.time())}"
        seen: list[float] = []
        listeners = [asyncio.create_task(listen(r, tag, alerts, seen)) for r in opened]
        sent = time.perf_counter()
        for n in range(alerts):
            body = {"resource": f"{tag}-{n}", "event": "StreamTest", "environment": "Production",
                    "severity": "major", "service": ["bench"]}
            async with session.post(url + "/alert", json=body, headers=headers) as resp:
                assert resp.status == 201, await resp.text()
        posted = time.perf_counter()
        async with asyncio.timeout(120):
            await asyncio.gather(*listeners)
        after = rss_mb(pid)
        done = sorted(t - sent for t in seen)
        print(f"posted {alerts} alerts one after another in {posted - sent:.2f} s; every stream had all {alerts} "
              f"({len(seen)} of {len(opened)} streams, {len(seen) * alerts} deliveries): the last stream "
              f"{done[-1]:.2f} s after the first POST (median {statistics.median(done):.2f} s)")
        print(f"gateway RSS: {before:.1f} MB before, {idle:.1f} MB with {streams} idle streams "
              f"({(idle - before) * 1024 / max(streams, 1):.1f} KB each), {after:.1f} MB after delivery")
        for resp in opened:
            resp.close()


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.streams", description=__doc__)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--alerts", type=int, default=10)
    args = parser.parse_args()
    stack = ProcessStack("streams", env={"GATEWAY_PROCESSES": "1", "LOG_LEVEL": "WARNING"})
    try:
        await stack.start(timeout=90.0)
        await measure(stack.url, stack.admin_key, stack.pids()["gateway"], args.streams, args.alerts)
    finally:
        stack.stop(grace=10.0)
        await stack.delete_topology()


if __name__ == "__main__":
    asyncio.run(main())
