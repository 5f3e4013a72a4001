"""``python -m bench.burst``: a 202-path burst against a running alertbus (``alertbus run``), driven by wrk.

The Python load generator of ``python -m bench`` costs about as much CPU per request as the gateway it measures,
and on two cores that halves what a burst can show. wrk (C, Debian's ``wrk``) sends the burst instead, with
``bench/wrk/alerts.lua``: half new alerts, half duplicates of a recent resource, all with origin = the run's id
and ``Prefer: respond-async``. Each accepted request adds exactly one to ``count + duplicateCount`` of the run's
alerts (Alerta's top 10 by origin gives both). The drain is watched on the ingest's own count of processed
messages (``alertbus_ingest_batch_size_sum`` on ``/metrics``, polled every 0.2 s: an aggregation over every alert
each poll would load the very store being measured); once it has grown by the number of 202s, the sum above is
read once and must be at least that number (wrk does not count the requests still in flight when it stops, so
it may end a few above) — else the run reports what is missing.

Reports accepted alerts/s, latency (p50/p90/p99 from wrk), refused and wrong answers, CPU as a share of one core
per alertbus process, for the broker and for wrk itself during the burst and during the drain, the drain time, the
drain rate (the backlog left when the burst ends / drain time) and the end-to-end stored rate (accepted alerts /
(burst + drain)).

``--pause-ingest`` measures the two halves apart: the ingest workers are stopped (SIGSTOP) for the burst, so the
burst shows what the intake alone (gateways, broker, load generator) accepts on this machine, and resumed
(SIGCONT) when it ends, so the drain shows what the ingest and the store alone store per second, from a full queue.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from shared.settings import Settings
from tests.support.alertbus_run import children, command_line, run_env, start_run, stop
from tests.support.namespace import delete_topology

from .cpu import Sampler, background_share, broker_pids

SCRIPT = Path(__file__).with_name("wrk") / "alerts.lua"
RESULT = re.compile(r"RESULT accepted=(\d+) refused=(\d+) wrong=(\d+) p50=([\d.]+) p90=([\d.]+) p99=([\d.]+)")
POLL = 0.2  # seconds between drain checks
PROCESSED = re.compile(rb"^alertbus_ingest_batch_size_sum ([0-9.e+]+)$", re.MULTILINE)


def run_pids() -> list[int]:
    """The ``alertbus run`` processes on this machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            words = command_line(int(entry.name))
            if len(words) >= 2 and words[-1] == "run" and words[-2].endswith("alertbus"):
                found.append(int(entry.name))
    return found


def alertbus_pids(run: int) -> dict[str, int]:
    """The processes of ``alertbus run`` ``run``: its services by name (numbered when there are several) and
    its embedded store."""
    found: dict[str, int] = {}
    for pid in sorted(children(run)):
        words = command_line(pid)
        name = words[-1] if words[-3:-1] == ["-m", "services"] else "store" if any(
            w.endswith("secantusd-py") for w in words) else None
        if name is None:
            continue
        label, n = name, 2
        while label in found:
            label, n = f"{name}-{n}", n + 1
        found[label] = pid
    return found


async def processed(session: aiohttp.ClientSession, url: str) -> float:
    """The messages the ingest workers have processed since they started (all of them: ``alertbus run`` serves
    every child's metrics on any gateway's ``/metrics``)."""
    async with session.get(f"{url}/metrics") as resp:
        found = PROCESSED.search(await resp.read())
    return float(found.group(1)) if found else 0.0


async def applied(session: aiohttp.ClientSession, url: str, run: str) -> int:
    """count + duplicateCount of the run's alerts."""
    async with session.get(f"{url}/alerts/top10/count", params={"group-by": "origin", "origin": run}) as resp:
        top = (await resp.json()).get("top10") or [{}]
    return int(top[0].get("count", 0)) + int(top[0].get("duplicateCount", 0))


def children_cpu() -> float:
    """CPU seconds of this process' children that have ended (wrk, once it has been waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def signal_all(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:  # a child the run has just restarted: it is not held
            pass


async def burst(args: argparse.Namespace, run_pid: int | None) -> dict[str, Any]:
    run = args.run or f"burst-{uuid.uuid4().hex[:8]}"
    pids = {**(alertbus_pids(run_pid) if run_pid else {}), **broker_pids()}
    held = [pid for name, pid in pids.items() if name.startswith("ingest")] if args.pause_ingest else []
    if args.pause_ingest and not held:
        raise SystemExit("--pause-ingest needs the ingest processes of one `alertbus run` on this machine")
    background = await background_share()
    sampler = Sampler(pids)
    env = {**os.environ, "RUN": run, "KEY": args.key or ""}
    command = [args.wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration:g}s", "--timeout", "30s",
               "-s", str(SCRIPT), args.url]
    headers = {"Authorization": f"Key {args.key}"} if args.key else {}
    session = aiohttp.ClientSession(headers=headers)
    before = await processed(session, args.url)
    signal_all(held, signal.SIGSTOP)
    try:
        sampler.start()
        wrk_before = children_cpu()
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        burst_seconds = time.monotonic() - started
        burst_cpu = sampler.stop(burst_seconds)
        burst_cpu["wrk"] = round((children_cpu() - wrk_before) / burst_seconds, 2)
    finally:
        signal_all(held, signal.SIGCONT)
    match = RESULT.search(out.decode())
    if proc.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed (exit {proc.returncode}):\n{out.decode()}")
    accepted, refused, wrong = (int(match.group(i)) for i in (1, 2, 3))
    p50, p90, p99 = (float(match.group(i)) for i in (4, 5, 6))
    sampler.start()
    drain_started = time.monotonic()
    async with session:
        in_burst = await processed(session, args.url) - before  # stored while the burst ran
        while time.monotonic() - drain_started < args.drain_timeout:
            if await processed(session, args.url) - before >= accepted:
                break
            await asyncio.sleep(POLL)
        drain_seconds = time.monotonic() - drain_started
        drain_cpu = sampler.stop(drain_seconds)
        total = await applied(session, args.url, run)
    drained = total >= accepted
    drain = drain_seconds if drained else None
    return {
        "run": run, "background": background, "connections": args.connections, "seconds": round(burst_seconds, 1),
        "accepted": accepted, "accepted_per_s": round(accepted / burst_seconds), "refused": refused, "wrong": wrong,
        "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "applied": total, "drained": drained,
        "drain_s": None if drain is None else round(drain, 1), "ingest_paused": bool(held),
        "drain_per_s": None if not drain else round(max(accepted - in_burst, 0) / drain),
        "end_to_end_per_s": None if drain is None else round(total / (burst_seconds + drain)),
        "drain_watched_s": round(drain_seconds, 1), "cpu_burst": burst_cpu, "cpu_drain": drain_cpu,
        "cpu_ms_per_alert": cpu_per_alert(burst_cpu, burst_seconds, drain_cpu, drain_seconds, total),
    }


def cpu_per_alert(burst: dict[str, float], burst_seconds: float, drain: dict[str, float], drain_seconds: float,
                  alerts: int) -> dict[str, float]:
    """CPU milliseconds per applied alert and process over the burst and the drain together (what the alerts
    cost in all, whichever phase paid)."""
    names = [name for name in burst if not name.startswith("machine")]
    return {name: round((burst[name] * burst_seconds + drain.get(name, 0.0) * drain_seconds) * 1000 / alerts, 3)
            for name in names} if alerts else {}


def show(r: dict[str, Any]) -> str:
    lines = [
        f"202 burst ({r['run']}): {r['connections']} connections, {r['seconds']} s, machine busy before: "
        f"{r['background']:.0%}",
        f"  accepted {r['accepted']} = {r['accepted_per_s']:,} alerts/s  p50 {r['p50_ms']:.1f} ms  "
        f"p90 {r['p90_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  refused {r['refused']}  wrong {r['wrong']}",
    ]
    if r["ingest_paused"]:
        lines.append("  the ingest was paused during the burst: the burst is the intake alone, the drain the "
                     "ingest and the store alone")
    if r["drained"]:
        lines.append(f"  drained: {r['applied']} applied, last stored {r['drain_s']} s after the burst (the backlog "
                     f"left at its end at {r['drain_per_s'] or 0:,} alerts/s); end to end {r['end_to_end_per_s']:,} "
                     "alerts/s")
    else:
        lines.append(f"  NOT drained: {r['applied']} of {r['accepted']} applied when the drain timed out")
    for phase in ("burst", "drain"):
        shown = {name: share for name, share in r[f"cpu_{phase}"].items() if share or name.startswith("machine")}
        shares = ", ".join(f"{name} {share:.0%}" for name, share in shown.items())
        lines.append(f"  CPU during the {phase} (share of one core): {shares}")
    costs = ", ".join(f"{name} {ms:.3f}" for name, ms in r["cpu_ms_per_alert"].items() if ms)
    lines.append(f"  CPU ms per alert (burst and drain): {costs}")
    return "\n".join(lines)


async def started_run(args: argparse.Namespace) -> dict[str, Any]:
    """``--start``: a fresh ``alertbus run`` as a user starts it (its own DATA_DIR, ports and broker prefix; the
    prefix's queues and exchanges deleted afterwards), measured, then stopped."""
    with tempfile.TemporaryDirectory(prefix="alertbus-burst-") as data:
        env = run_env(Path(data))
        env["ADMIN_KEY"] = args.key = secrets.token_urlsafe(24)
        env["LOG_LEVEL"] = "WARNING"
        env.pop("INGEST_SHARDS")  # the default, as a user gets it
        proc = start_run(env)
        try:
            args.url = f"http://127.0.0.1:{env['PORT']}"
            return await burst(args, proc.pid)
        finally:
            stop(proc)
            # The run's own settings (its prefix, the default shards): its queues and exchanges, all of them.
            await delete_topology(Settings.from_env(env))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--start", action="store_true",
                        help="start a fresh `alertbus run` (own data dir, ports, broker prefix), measure it, stop it")
    target.add_argument("--url", help="base URL of a running `alertbus run`, e.g. http://127.0.0.1:8080")
    parser.add_argument("--key", default=os.environ.get("ALERTA_API_KEY"), help="API key with write:alerts")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of burst (default 20)")
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--run", help="origin of the run's alerts (default: a new one)")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    parser.add_argument("--pause-ingest", action="store_true",
                        help="stop the ingest workers during the burst (SIGSTOP), resume them for the drain")
    args = parser.parse_args(argv)
    if not shutil.which(args.wrk):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    if args.start:
        result = asyncio.run(started_run(args))
    else:
        runs = run_pids()
        result = asyncio.run(burst(args, runs[0] if len(runs) == 1 else None))  # CPU per process: one run only
    print(show(result))


if __name__ == "__main__":
    main()
