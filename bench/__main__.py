"""``python -m bench`` (``make bench``): measure alertbus' write path, optionally beside a reference Alerta.

Phase A sends the mixed load synchronously (201 with the processed alert), phase B the same mix with
``Prefer: respond-async`` (202) and then waits until the backlog is stored (the drain). With
``--reference-url`` phase A's load also goes to a second server (Alerta 9.1, see reference-alerta.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.support.namespace import AMQP_URL
from tests.support.processes import ProcessStack

from . import report
from .cpu import Sampler, background_share, broker_pids
from .drain import HttpProbe, Probe, StoreProbe, wait_drained
from .load import Load, Mix, Result

DEFAULT_REQUESTS = 20000
DEFAULT_DURATION = 60.0  # a cap per phase by default, so that a slow server cannot make `make bench` hang


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    target = parser.add_argument_group("target (default: start a private alertbus stack)")
    target.add_argument("--url", help="measure an already running alertbus at this base URL instead")
    target.add_argument("--key", help="API key (write + read) for --url")
    target.add_argument("--workers", type=int, default=1, help="ingest worker processes (default 1)")
    target.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for every service, e.g. INGEST_BATCH_SIZE=200 (repeatable)")
    target.add_argument("--amqp-url", default=AMQP_URL)
    target.add_argument("--keep-logs", action="store_true", help="keep the stack's temp dir and logs")
    load = parser.add_argument_group("load")
    load.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    load.add_argument("--requests", type=int,
                      help=f"requests per phase (default {DEFAULT_REQUESTS}, capped at {DEFAULT_DURATION:.0f}s)")
    load.add_argument("--duration", type=float, help="seconds per phase (alone: no request limit)")
    load.add_argument("--warmup", type=int, default=500, help="unmeasured requests first (default 500)")
    load.add_argument("--phases", default="AB", help="A (201 path), B (202 path + drain); default AB")
    load.add_argument("--seed", type=int, default=1)
    load.add_argument("--drain-timeout", type=float, default=120.0, help="seconds (default 120)")
    ref = parser.add_argument_group("reference")
    ref.add_argument("--reference-url", help="also run phase A against this server (Alerta 9.1)")
    ref.add_argument("--reference-key", help="API key for the reference, if it requires one")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.requests is None and args.duration is None:
        args.requests, args.duration = DEFAULT_REQUESTS, DEFAULT_DURATION
    if args.url and not args.key:
        args.key = os.environ.get("ALERTA_API_KEY")
    bad = [item for item in args.env if "=" not in item]
    if bad:
        parser.error(f"--env wants NAME=VALUE, got {bad[0]!r}")
    args.phases = args.phases.upper()
    return args


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


async def ready(session: aiohttp.ClientSession, url: str, key: str | None, timeout: float = 60.0) -> None:
    """Until one synchronous POST /alert answers 201: the gateway, the broker and a worker all work."""
    deadline = time.perf_counter() + timeout
    mix = Mix(f"bench-probe-{os.getpid()}-{time.time_ns()}", 0)
    while True:
        result = await Load(session, url, key, mix, 1, 1, None, False).run(Result("probe", url, "201"))
        if result.statuses["201"]:
            return
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{url}/alert did not answer 201 within {timeout:.0f}s: {dict(result.statuses)}")
        await asyncio.sleep(0.5)


async def phase(session: aiohttp.ClientSession, args: argparse.Namespace, name: str, url: str,
                key: str | None, respond_async: bool, sampler: Sampler) -> Result:
    """One measured phase, after an unmeasured warm-up of the same kind."""
    tag = f"{name.replace(' ', '-')}-{time.time_ns():x}"  # fresh resources: no earlier run interferes
    if args.warmup:
        warm = Load(session, url, key, Mix(f"warm-{tag}", args.seed + 1), args.concurrency, args.warmup,
                    None, False)
        await warm.run(Result("warm-up", url, "201"))
    say(f"{name}: {args.requests or 'unlimited'} requests"
        f"{f' (at most {args.duration:.0f}s)' if args.duration else ''}, concurrency {args.concurrency} -> {url}")
    sampler.start()
    mix = Mix(tag, args.seed)
    result = Result(name, url, "202" if respond_async else "201")
    await Load(session, url, key, mix, args.concurrency, args.requests, args.duration, respond_async).run(result)
    if not respond_async:
        result.cpu = sampler.stop(result.elapsed)
        return result

    def sample() -> None:
        result.cpu = sampler.stop(result.elapsed + time.time() - result.ended)

    await drain(session, args, url, key, mix, result, sample)
    return result


async def drain(session: aiohttp.ClientSession, args: argparse.Namespace, url: str, key: str | None,
                mix: Mix, result: Result, on_tail: Callable[[], None]) -> None:
    probe: Probe
    probe = StoreProbe(args.database_url) if args.database_url else HttpProbe(session, url, key, 16)
    try:
        groups = mix.accepted()
        say(f"{result.name}: waiting until the {len(groups)} alerts accepted with 202 are stored")
        found = await wait_drained(probe, groups, result.ended, args.drain_timeout, on_tail)
    finally:
        await probe.close()
    result.drain, result.drain_missing, result.wrong = found.seconds, found.missing, found.wrong
    result.drain_observed, result.drain_applied = found.observed, found.applied
    result.drain_method = probe.method


async def measure(args: argparse.Namespace, url: str, key: str | None, pids: dict[str, int]) -> list[Result]:
    connector = aiohttp.TCPConnector(limit=args.concurrency + 16)
    timeout = aiohttp.ClientTimeout(total=60)
    # Per-process CPU only for the processes of our own stack; the machine's share in every case.
    sampler = Sampler({**pids, **broker_pids()} if pids else {})
    results = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await ready(session, url, key)
        if "A" in args.phases:
            results.append(await phase(session, args, "alertbus A (201 sync)", url, key, False, sampler))
        if "B" in args.phases:
            results.append(await phase(session, args, "alertbus B (202 async)", url, key, True, sampler))
        if args.reference_url:
            await ready(session, args.reference_url, args.reference_key)
            results.append(await phase(session, args, "reference A (201 sync)", args.reference_url,
                                       args.reference_key, False, Sampler({})))
    return results


async def run(args: argparse.Namespace) -> list[Result]:
    args.background = await background_share()
    if args.background > 0.15:
        say(f"warning: the machine is already {args.background * 100:.0f}% busy; the numbers will suffer")
    if args.url:
        args.database_url = None
        return await measure(args, args.url, args.key, {})
    # Per-request logging would measure the log handler, not the service.
    env = {"AUTH_REQUIRED": "true", "LOG_LEVEL": "WARNING", **dict(item.split("=", 1) for item in args.env)}
    stack = ProcessStack("bench", workers=args.workers, env=env, amqp_url=args.amqp_url, keep_logs=args.keep_logs)
    say(f"starting alertbus ({args.workers} ingest worker(s), broker prefix {stack.prefix}) in {stack.tmp}")
    args.database_url = stack.database_url
    try:
        await stack.start(timeout=90.0)
        say(f"alertbus is up at {stack.url}; pids {stack.pids()}")
        return await measure(args, stack.url, stack.admin_key, stack.pids())
    finally:
        for name, code in stack.exited().items():
            stack.keep_logs = True  # what killed it is in its log
            say(f"{name} DIED during the run (exit code {code}); its log ends:\n{stack.log_tail(name, 40)}")
        say("stopping the stack")
        stack.stop(grace=15.0)
        try:
            deleted = await stack.delete_topology()
            say(f"deleted {deleted} queues/exchanges under {stack.prefix}"
                + (f"; logs kept in {stack.tmp}" if stack.keep_logs else ""))
        except Exception as exc:  # never hide the run's own outcome behind a cleanup failure
            say(f"could not delete the broker objects under {stack.prefix}: {exc!r}")


def describe(args: argparse.Namespace) -> dict[str, Any]:
    target = f"--url {args.url}" if args.url else f"private stack, {args.workers} ingest worker(s)"
    env = f", env {' '.join(args.env)}" if args.env else ""
    size = " or ".join(part for part in (f"{args.requests} requests" if args.requests else "",
                                         f"{args.duration:.0f}s" if args.duration else "") if part)
    return {
        "description": f"{target}{env}; {size} per phase, concurrency {args.concurrency}, "
                       f"{os.cpu_count()} CPUs (busy {args.background * 100:.0f}% before the start), "
                       "client on the same machine",
        "background_cpu_share": args.background,
        "workers": None if args.url else args.workers, "concurrency": args.concurrency,
        "requests": args.requests, "duration": args.duration, "warmup": args.warmup, "env": args.env,
        "url": args.url, "reference_url": args.reference_url, "cpus": os.cpu_count(), "seed": args.seed,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = asyncio.run(run(args))
    except (RuntimeError, OSError) as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    summaries = [report.summary(result) for result in results]
    setup = describe(args)
    print(report.table(summaries, setup), flush=True)
    if args.json:
        report.write_json(args.json, summaries, setup)
        say(f"results written to {args.json}")
    failed = any(s["errors"] or s["wrong_replies"] or s.get("drain_missing")
                 for s in summaries if s["name"].startswith("alertbus"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
