"""What every alertbus process does: listen on its sockets (bound by itself, or inherited from ``alertbus run``),
serve an app, tell its supervisor it is ready, and stop on a signal."""

from __future__ import annotations

import asyncio
import errno
import faulthandler
import logging
import os
import signal
import socket
from contextlib import AsyncExitStack
from typing import Any

from aiohttp import web

from shared.broker import connect
from shared.http import SERVER_OPTIONS
from shared.settings import Settings

log = logging.getLogger("alertbus")
LISTEN_FDS = "ALERTBUS_LISTEN_FDS"  # the listening sockets a child of ``alertbus run`` serves on (inherited)
READY_FD = "ALERTBUS_READY_FD"  # the pipe on which a child of ``alertbus run`` says it serves
PROCESS_NAME = "ALERTBUS_PROCESS"  # the name ``alertbus run`` gave a child (e.g. ``gateway-2``), in its log lines


def bind(stack: AsyncExitStack, host: str, port: int, variable: str, *, reuse_port: bool = False
         ) -> list[socket.socket]:
    """The sockets to serve on ``host``:``port`` (one per address ``host`` resolves to), bound at once so that a
    port in use is reported before anything slow starts; they listen once ``serve`` has the service ready.
    ``reuse_port``: SO_REUSEPORT, for several sets of sockets on one port (``bind_each``)."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise RuntimeError(f"cannot listen on {host}:{port}: the host name does not resolve ({exc.strerror}); "
                           f"check HOST") from None
    sockets = []
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        stack.callback(sock.close)
        sockets.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's create_server
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise RuntimeError(f"port {port} on {host} is already in use by another process: stop it, or set "
                                   f"{variable} to a free port") from None
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise RuntimeError(f"cannot listen on {host}:{port} ({variable}): {reason}") from None
    return sockets


def bind_each(stack: AsyncExitStack, host: str, port: int, variable: str, copies: int) -> list[list[socket.socket]]:
    """One set of sockets on ``host``:``port`` per process of ``copies``, all bound with SO_REUSEPORT: the kernel
    then spreads new connections evenly over the processes. (With one listening socket shared by all, the process
    that wakes first accepts every pending connection — asyncio accepts up to its backlog at once — so a client
    that opens its connections together, as load balancers and load generators do, gets one process of N: seen
    as 453 against 29 profiler samples of two gateways under wrk.) A set whose process is being restarted keeps
    its pending connections in its backlog until the new process accepts them."""
    if copies <= 1:
        return [bind(stack, host, port, variable)]
    first = bind(stack, host, port, variable, reuse_port=True)
    port = first[0].getsockname()[1] if port == 0 else port  # the others join the port the first was given
    return [first, *(bind(stack, host, port, variable, reuse_port=True) for _ in range(copies - 1))]


async def serve(stack: AsyncExitStack, app: web.Application, sockets: list[socket.socket]) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, **SERVER_OPTIONS)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    for sock in sockets:
        await web.SockSite(runner, sock, shutdown_timeout=5).start()


async def check_broker(settings: Settings) -> None:
    # aiormq logs its own connection error too; the caller prints the one line that matters.
    quiet = logging.getLogger("aiormq.connection")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        connection = await connect(settings, timeout=5.0, service="check")
    finally:
        quiet.setLevel(level)
    await connection.close()


def wait_for_signal() -> asyncio.Event:
    """SIGINT and SIGTERM stop the process gracefully. For a stop that hangs: SIGUSR1 logs where every task waits
    (``kill -USR1 <pid>``), and SIGUSR2 writes every thread's Python stack to stderr, even while the event loop is
    blocked (faulthandler); ``alertbus run`` sends both to a child before it kills it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, log_tasks)
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    return stop


def log_tasks() -> None:
    """Every asyncio task of this process and the chain of calls it waits in, as one log record."""
    lines = []
    for task in asyncio.all_tasks():
        lines.append(f"{task.get_name()}: {' > '.join(awaiting(task.get_coro())) or 'not started'}")
    log.warning("%d tasks: %s", len(lines), " | ".join(sorted(lines)))


def awaiting(coro: object) -> list[str]:
    """The frames of a suspended coroutine and of what it awaits, outermost first."""
    chain: list[str] = []
    while coro is not None and len(chain) < 40:
        frame = _frame(coro)
        if frame is not None:
            chain.append(f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno} {frame.f_code.co_name}")
        inner = (getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
                 or getattr(coro, "gi_yieldfrom", None))
        if inner is not None and _frame(inner) is None and frame is not None:
            # An async generator's step (``anext``, ``athrow``) shows no frame of its own: inside an async context
            # manager's enter or exit (every aiohttp cleanup context is one), go on in the generator it steps.
            generator = getattr(frame.f_locals.get("self"), "gen", None)
            inner = generator if generator is not None and _frame(generator) is not None else inner
        coro = inner
    return chain


def _frame(coro: object) -> Any:
    return getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None) or getattr(coro, "gi_frame", None)


def inherited_sockets(stack: AsyncExitStack) -> list[socket.socket] | None:
    """The listening sockets ``alertbus run`` bound for this child, or None when it was not started that way."""
    value = os.environ.get(LISTEN_FDS)
    if not value:
        return None
    sockets = [socket.socket(fileno=int(fd)) for fd in value.split(",")]
    for sock in sockets:
        stack.callback(sock.close)
    return sockets


def tell_ready() -> None:
    """Tell ``alertbus run`` (if it started this process) that this service serves."""
    value = os.environ.pop(READY_FD, "")
    if value:
        fd = int(value)
        try:
            os.write(fd, b"ready\n")
        except OSError as exc:  # the supervisor is gone: this process ends with it (PR_SET_PDEATHSIG)
            log.warning("could not tell alertbus run this service is ready: %s", exc)
        finally:
            os.close(fd)
