"""The ``alertbus`` command: ``run`` (every service, each in a process of its own: services/supervisor.py) or one
service alone."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import uvloop

from shared import logs
from shared.metrics import Metrics
from shared.settings import Settings, SettingsError

from . import gateway, hooks, ingest, query
from .embedded import data_dir_problem
from .ingest.ops import create_ops_app
from .process import PROCESS_NAME, bind, inherited_sockets, serve, tell_ready, wait_for_signal
from .supervisor import run_all

log = logging.getLogger("alertbus")


async def run_one(name: str, settings: Settings) -> None:
    stop = wait_for_signal()
    async with AsyncExitStack() as stack:
        metrics = Metrics()
        inherited = inherited_sockets(stack)  # a child of ``alertbus run`` (services/supervisor.py)
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
            sockets = inherited if inherited is not None else bind(stack, settings.host, port, variable)
            await serve(stack, factory(settings, metrics), sockets)
        log.info("%s started", name)
        tell_ready()
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


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    choice = os.environ.get("EVENT_LOOP", "uvloop")
    if choice not in ("uvloop", "asyncio"):
        raise SettingsError(f"EVENT_LOOP must be uvloop or asyncio, not {choice!r}")
    return uvloop.new_event_loop if choice == "uvloop" else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="alertbus", description="Alerta API v3 alert server over RabbitMQ")
    parser.add_argument("command", choices=["run", "gateway", "ingest", "query", "hooks"])
    args = parser.parse_args(argv)
    try:
        settings = service_settings(args.command)
        factory = loop_factory()
    except SettingsError as exc:
        print(f"alertbus: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format, process=os.environ.get(PROCESS_NAME, ""))
    try:
        if args.command == "run":
            return asyncio.run(run_all(settings))
        # A service's loop is uvloop's (libuv) unless EVENT_LOOP=asyncio: the same asyncio API at a lower cost per
        # callback and per socket call, which is most of what the gateway does per request. ``alertbus run``
        # itself only supervises.
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(run_one(args.command, settings))
    except RuntimeError as exc:  # BrokerUnavailable, StoreUnreachable, DataDirError, a port in use …
        print(f"alertbus: {exc}", file=sys.stderr)
        return 1
    return 0
