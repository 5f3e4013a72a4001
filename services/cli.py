"""The ``alertbus`` command: ``run`` (everything in one process) or one service alone."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import secrets
import signal
import socket
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from aiohttp import web

from shared import logs
from shared.broker import connect
from shared.http import SERVER_OPTIONS
from shared.metrics import Metrics
from shared.settings import Settings, SettingsError

from . import gateway, hooks, ingest, query
from .embedded import DataDir, EmbeddedStore, data_dir_problem
from .ingest.ops import create_ops_app

log = logging.getLogger("alertbus")


def bind(stack: AsyncExitStack, host: str, port: int, variable: str) -> list[socket.socket]:
    """The sockets to serve on ``host``:``port`` (one per address ``host`` resolves to), bound at once so that a
    port in use is reported before anything slow starts; they listen once ``serve`` has the service ready."""
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
    """SIGINT and SIGTERM stop the process gracefully; SIGUSR1 logs where every task waits (for a stop that
    hangs: ``kill -USR1 <pid>``)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, log_tasks)
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
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            chain.append(f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno} {frame.f_code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain


async def run_all(settings: Settings) -> None:
    stop = wait_for_signal()
    async with AsyncExitStack() as stack:
        # First what is quick to check: each problem must be one clear line, not a slow start that then fails.
        data = DataDir.claim(settings.data_dir) if "DATABASE_URL" not in os.environ else None
        if data is not None:
            stack.callback(data.release)
        # The internal services listen on loopback only: the gateway is the one public entry point.
        query_sockets = bind(stack, "127.0.0.1", settings.query.port, "QUERY_PORT")
        hooks_sockets = bind(stack, "127.0.0.1", settings.hooks.port, "HOOKS_PORT")
        gateway_sockets = bind(stack, settings.host, settings.gateway.port, "PORT")
        await check_broker(settings)
        if data is not None:
            store = EmbeddedStore(data)
            stack.callback(store.stop)
            url = await store.start()
            settings = settings.with_(database_url=url)
            log.info("embedded store (SecantusDB) at %s, data in %s", url, store.data_dir)
        metrics = Metrics()  # one registry for the process, served by the gateway's /metrics
        worker = ingest.create_worker(settings, metrics, schedules=True)
        await worker.start()
        stack.push_async_callback(worker.stop)
        await serve(stack, query.create_app(settings, metrics), query_sockets)
        await serve(stack, hooks.create_app(settings, metrics), hooks_sockets)
        await serve(stack, gateway.create_app(settings, metrics), gateway_sockets)
        url = f"http://{settings.host}:{settings.gateway.port}"
        print(f"alertbus is running at {url}  (also under {url}/api)", flush=True)
        if not settings.auth_required:
            print("authentication is off (AUTH_REQUIRED=false)", flush=True)
        elif settings.admin_key:
            print("authenticate with the ADMIN_KEY: 'Authorization: Key <ADMIN_KEY>' or ?api-key=", flush=True)
        else:
            print("authentication is on but no ADMIN_KEY is set: set ADMIN_KEY=<a secret> to create the "
                  "first admin key, or AUTH_REQUIRED=false", flush=True)
        await stop.wait()
        print("alertbus is shutting down", flush=True)


async def run_one(name: str, settings: Settings) -> None:
    stop = wait_for_signal()
    async with AsyncExitStack() as stack:
        metrics = Metrics()
        if name == "ingest":
            # Its own /metrics and probes (no other service here serves the registry), if INGEST_PORT is set.
            sockets = bind(stack, settings.host, settings.ingest.port, "INGEST_PORT") if settings.ingest.port else []
            worker = ingest.create_worker(settings, metrics, schedules=True)
            await worker.start()
            stack.push_async_callback(worker.stop)
            if sockets:
                await serve(stack, create_ops_app(worker), sockets)
        else:
            factory = {"gateway": gateway.create_app, "query": query.create_app, "hooks": hooks.create_app}[name]
            variable = {"gateway": "PORT", "query": "QUERY_PORT", "hooks": "HOOKS_PORT"}[name]
            port = {"gateway": settings.gateway.port, "query": settings.query.port, "hooks": settings.hooks.port}[name]
            await serve(stack, factory(settings, metrics), bind(stack, settings.host, port, variable))
        log.info("%s started", name)
        await stop.wait()


SECRET_FILE = "service-secret"  # under DATA_DIR: the SERVICE_SECRET ``alertbus run`` made for itself


def stored_secret(data_dir: str) -> str:
    """The secret ``alertbus run`` made on its first start, kept (mode 0600) under DATA_DIR: messages it signed
    and that are still queued at a restart must still be recognised as its own after it."""
    path = Path(data_dir) / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    return secret


def service_settings(command: str) -> Settings:
    """The settings of ``command``. ``alertbus run`` uses a SERVICE_SECRET of its own when none is set (its
    services share the process); a service started alone must be given the installation's secret, or the gateway
    could not reach the internal services and the ingest worker could not tell its messages from direct ones."""
    settings = Settings.from_env()
    if settings.service_secret:
        return settings
    if command == "run":
        try:
            return settings.with_(service_secret=stored_secret(settings.data_dir))
        except OSError as exc:
            raise SettingsError(data_dir_problem(settings.data_dir, exc)) from None
    raise SettingsError("SERVICE_SECRET must be set (the same long random value for every service of an "
                        "installation) to run a service alone")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alertbus", description="Alerta API v3 alert server over RabbitMQ")
    parser.add_argument("command", choices=["run", "gateway", "ingest", "query", "hooks"])
    args = parser.parse_args(argv)
    try:
        settings = service_settings(args.command)
    except SettingsError as exc:
        print(f"alertbus: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    try:
        asyncio.run(run_all(settings) if args.command == "run" else run_one(args.command, settings))
    except RuntimeError as exc:  # BrokerUnavailable, StoreUnreachable, DataDirError, a port in use …
        print(f"alertbus: {exc}", file=sys.stderr)
        return 1
    return 0
