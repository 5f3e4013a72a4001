"""``alertbus run``: every service of an installation from one command, each in a process of its own.

The parent claims DATA_DIR, binds the ports (a port in use is one clear line before anything slow starts), checks
the broker and starts the embedded store; then it starts the children: the ingest worker, the query and hooks
services and GATEWAY_PROCESSES gateway processes (one per core by default), each with its own listening socket on
the gateway's port (SO_REUSEPORT: the kernel spreads connections evenly over them). A child is ``alertbus
<service>`` given its inherited sockets and the parent's settings (store URL, service secret); it ends with the
parent however the parent ends (services/store_guard.py), and its log goes to the parent's output. One Ctrl-C or
SIGTERM stops the gateways first (no new requests), then the others. A child that dies is started again after a
pause that doubles each time; one that dies more than RESTART_LIMIT times within RESTART_WINDOW seconds stops the
whole run with a clear message. Metrics: every child writes to one PROMETHEUS_MULTIPROC_DIR, and any gateway's
``/metrics`` serves them all (shared/metrics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from prometheus_client import multiprocess

from shared.settings import Settings
from shared.store import open_store

from . import store_guard
from .embedded import DataDir, EmbeddedStore
from .process import LISTEN_FDS, PROCESS_NAME, READY_FD, bind, bind_each, check_broker, wait_for_signal

log = logging.getLogger("alertbus.run")
START_TIMEOUT = 120.0  # seconds a child may take to serve
STOP_GRACE = 30.0  # seconds a child may take to stop before it is killed
DUMP_PAUSE = 1.0  # seconds a child that did not stop has to log where it waits before it is killed
RESTART_LIMIT, RESTART_WINDOW = 4, 60.0  # restarts of one child within the window before the run gives up
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 8.0  # seconds before a restart: doubled at each death within the window


class ChildFailed(RuntimeError):
    """A child ended, or did not serve, during its start."""


@dataclass
class Child:
    name: str  # "gateway-2", "ingest" …
    service: str  # the ``alertbus`` command it runs
    sockets: list[socket.socket] = field(default_factory=list)
    process: asyncio.subprocess.Process | None = None
    deaths: list[float] = field(default_factory=list)  # monotonic times, within RESTART_WINDOW


async def first_line(read: int) -> bytes:
    """What a child says on its ready pipe: ``ready``, or nothing when it ended first (TimeoutError: neither)."""
    loop = asyncio.get_running_loop()
    said: asyncio.Future[bytes] = loop.create_future()

    def readable() -> None:
        if not said.done():
            said.set_result(os.read(read, 64))

    loop.add_reader(read, readable)
    try:
        async with asyncio.timeout(START_TIMEOUT):
            return await said
    finally:
        loop.remove_reader(read)


def exit_reason(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Supervisor:
    def __init__(self, env: dict[str, str], stop: asyncio.Event, metrics_dir: str) -> None:
        self.env, self.stop, self.metrics_dir = env, stop, metrics_dir
        self.children: list[Child] = []
        self.watchers: list[asyncio.Task[None]] = []
        self.failure = ""

    async def start_all(self, children: list[Child]) -> None:
        """Start every child and wait until each serves; ChildFailed (the others stopped) when one does not."""
        self.children = children
        results = await asyncio.gather(*(self.start(child) for child in children), return_exceptions=True)
        failed = [result for result in results if isinstance(result, BaseException)]
        if failed:
            await self.stop_all()
            raise failed[0]
        self.watchers = [asyncio.create_task(self.watch(child), name=f"watch-{child.name}") for child in children]

    async def start(self, child: Child) -> None:
        fds = [sock.fileno() for sock in child.sockets]
        read, write = os.pipe()
        env = {**self.env, READY_FD: str(write), PROCESS_NAME: child.name}
        if fds:
            env[LISTEN_FDS] = ",".join(map(str, fds))
        argv = [sys.executable, store_guard.__file__, str(os.getpid()), sys.executable, "-m", "services",
                child.service]
        try:
            child.process = await asyncio.create_subprocess_exec(*argv, env=env, pass_fds=(*fds, write))
        finally:
            os.close(write)  # the child holds the only other end: its exit reads as an empty line
        try:
            said = await first_line(read)
        except TimeoutError:
            child.process.kill()
            said = b""
        finally:
            os.close(read)
        if not said.startswith(b"ready"):
            code = await child.process.wait()
            raise ChildFailed(f"the {child.name} process {exit_reason(code)} during its start (see its log above)")
        log.debug("%s serves (pid %d)", child.name, child.process.pid)

    async def watch(self, child: Child) -> None:
        """Start ``child`` again whenever it ends, unless the run stops; stop the run when it keeps dying."""
        while child.process is not None:
            code = await child.process.wait()
            multiprocess.mark_process_dead(child.process.pid, self.metrics_dir)  # type: ignore[no-untyped-call]
            if self.stop.is_set():
                return
            now = time.monotonic()
            child.deaths = [t for t in child.deaths if now - t < RESTART_WINDOW] + [now]
            if len(child.deaths) > RESTART_LIMIT:
                self.failure = (f"the {child.name} process {exit_reason(code)}, its {len(child.deaths)}th end within "
                                f"{RESTART_WINDOW:.0f}s: alertbus stops (see its log above)")
                self.stop.set()
                return
            pause = min(FIRST_PAUSE * 2 ** (len(child.deaths) - 1), LONGEST_PAUSE)
            log.warning("the %s process %s; starting it again in %.1fs", child.name, exit_reason(code), pause)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self.stop.wait()
            if self.stop.is_set():
                return
            with contextlib.suppress(ChildFailed):  # counted as its next end, at once
                await self.start(child)

    async def stop_all(self) -> None:
        """The gateways first (they take no new request), then the others; each is killed after STOP_GRACE."""
        self.stop.set()
        gateways = [child for child in self.children if child.service == "gateway"]
        others = [child for child in self.children if child.service != "gateway"]
        for group in (gateways, others):
            await asyncio.gather(*(self._stop(child) for child in group))
        for watcher in self.watchers:
            watcher.cancel()
        await asyncio.gather(*self.watchers, return_exceptions=True)

    async def _stop(self, child: Child) -> None:
        process = child.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            async with asyncio.timeout(STOP_GRACE):
                await process.wait()
        except TimeoutError:
            log.warning("the %s process did not stop within %.0fs; where it waits, then killed", child.name,
                        STOP_GRACE)
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGUSR1)  # its tasks, and where each waits (services/process.py)
                process.send_signal(signal.SIGUSR2)  # its threads' stacks, even with its event loop blocked
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DUMP_PAUSE):
                    await process.wait()
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def gateway_processes(settings: Settings) -> int:
    return settings.gateway.processes or os.cpu_count() or 1


async def run_all(settings: Settings) -> int:
    """``alertbus run``: 0 after a stop asked for, 1 when a child could not be kept running."""
    stop = wait_for_signal()
    async with AsyncExitStack() as stack:
        # First what is quick to check: each problem must be one clear line, not a slow start that then fails.
        data = DataDir.claim(settings.data_dir) if "DATABASE_URL" not in os.environ else None
        if data is not None:
            stack.callback(data.release)
        # The internal services listen on loopback only: the gateway is the one public entry point.
        query_sockets = bind(stack, "127.0.0.1", settings.query.port, "QUERY_PORT")
        hooks_sockets = bind(stack, "127.0.0.1", settings.hooks.port, "HOOKS_PORT")
        count = gateway_processes(settings)
        gateway_sockets = bind_each(stack, settings.host, settings.gateway.port, "PORT", count)
        await check_broker(settings)
        env = {**os.environ, "SERVICE_SECRET": settings.service_secret}
        if data is not None:
            store = EmbeddedStore(data)
            stack.callback(store.stop)
            env["DATABASE_URL"] = await store.start()
            log.info("embedded store (SecantusDB) at %s, data in %s", env["DATABASE_URL"], store.data_dir)
        async with open_store(env.get("DATABASE_URL", settings.database_url), indexes=False):
            pass  # an external store that does not answer is one line here, not one per child
        metrics_dir = tempfile.mkdtemp(prefix="alertbus-metrics-")
        stack.callback(shutil.rmtree, metrics_dir, ignore_errors=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        children = [Child("ingest", "ingest"), Child("query", "query", query_sockets),
                    Child("hooks", "hooks", hooks_sockets),
                    *(Child(f"gateway-{n}", "gateway", sockets) for n, sockets in enumerate(gateway_sockets, 1))]
        supervisor = Supervisor(env, stop, metrics_dir)
        try:
            await supervisor.start_all(children)
        except ChildFailed as exc:
            raise RuntimeError(str(exc)) from None
        stack.push_async_callback(supervisor.stop_all)
        banner(settings, count)
        await stop.wait()
        if supervisor.failure:
            print(f"alertbus: {supervisor.failure}", file=sys.stderr, flush=True)
        print("alertbus is shutting down", flush=True)
    return 1 if supervisor.failure else 0


def banner(settings: Settings, gateways: int) -> None:
    url = f"http://{settings.host}:{settings.gateway.port}"
    print(f"alertbus is running at {url}  (also under {url}/api)", flush=True)
    log.info("%d gateway processes, ingest, query and hooks each in its own process", gateways)
    if not settings.auth_required:
        print("authentication is off (AUTH_REQUIRED=false)", flush=True)
    elif settings.admin_key:
        print("authenticate with the ADMIN_KEY: 'Authorization: Key <ADMIN_KEY>' or ?api-key=", flush=True)
    else:
        print("authentication is on but no ADMIN_KEY is set: set ADMIN_KEY=<a secret> to create the "
              "first admin key, or AUTH_REQUIRED=false", flush=True)

