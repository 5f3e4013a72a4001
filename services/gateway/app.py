"""The gateway: the only public entry point. Authenticates, validates, publishes writes to RabbitMQ and
forwards reads to the query service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from shared.auth import KeyRing
from shared.backlog import publisher
from shared.http import ApiError, Probes, add_ops_routes, add_routes, make_middlewares
from shared.metrics import Metrics
from shared.routes import READ_PATHS
from shared.settings import Settings
from shared.store import open_store
from shared.store.accounts import Accounts
from shared.store.customers import CustomerStore
from shared.tasks import cancel_and_wait

from .admin import ADMIN_ROUTES
from .auth import auth_middleware
from .blackouts import BLACKOUT_ROUTES
from .commands import COMMAND_ROUTES
from .console import API_ROOT_ROUTE, CONSOLE_ROUTES
from .customers import CUSTOMER_ROUTES
from .keys import ACCOUNTS, CLIENT, KEYRING, METRICS, POLICY, RPC, SETTINGS, STORE, THROTTLE
from .login import accounts_context
from .notes import NOTE_ROUTES
from .openapi import OPENAPI_ROUTES
from .stream import STREAM_ROUTES, close_streams, stream_context
from .throttle import FailureThrottle
from .views import ALERT_ROUTES, MANAGEMENT_ROUTES, forward
from .webhooks import WEBHOOK_ROUTES

log = logging.getLogger("alertbus.gateway")
USAGE_FLUSH_SECONDS = 5.0
SHUTDOWN_REPLY_WAIT = 2.0  # seconds in-flight POST /alert calls may still wait for their reply on shutdown


async def broker_context(app: web.Application) -> AsyncIterator[None]:
    async with publisher(app[SETTINGS], app[METRICS], "gateway") as rpc:
        app[RPC] = rpc
        yield


async def release_callers(app: web.Application) -> None:
    """On shutdown (before in-flight requests are waited for): a POST /alert waiting for its reply gets it if it
    comes soon, else 202 at once — its message is queued — instead of being cut off by the server's shutdown
    timeout with no answer at all."""
    if RPC in app:
        await app[RPC].drain(min(app[SETTINGS].rpc_timeout, SHUTDOWN_REPLY_WAIT))


async def store_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with open_store(settings.database_url, indexes=False, metrics=app[METRICS]) as store:
        accounts = Accounts(store)
        keyring = KeyRing(accounts, settings.admin_key, settings.admin_users)
        await keyring.bootstrap()
        await CustomerStore(store).ensure_indexes()
        app[STORE], app[ACCOUNTS], app[KEYRING] = store, accounts, keyring
        flusher = asyncio.create_task(_flush_key_usage(keyring), name="key-usage")
        yield
        await cancel_and_wait([flusher])
        await keyring.flush_usage()


async def _flush_key_usage(keyring: KeyRing, every: float = USAGE_FLUSH_SECONDS) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await keyring.flush_usage()
        except Exception as exc:  # the store may be down; the counts are kept for the next flush
            log.warning("could not record API key usage: %s: %.200s", type(exc).__name__, exc)


async def client_context(app: web.Application) -> AsyncIterator[None]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        app[CLIENT] = session
        yield


def create_app(settings: Settings, metrics: Metrics | None = None) -> web.Application:
    metrics = metrics or Metrics()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[*make_middlewares("gateway", metrics, settings), auth_middleware],
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[THROTTLE] = FailureThrottle()
    app[POLICY] = settings.rules.policy()
    app.cleanup_ctx.extend([store_context, accounts_context, broker_context, client_context, stream_context])
    app.on_shutdown.extend([release_callers, close_streams])
    add_routes(app, ALERT_ROUTES + COMMAND_ROUTES + NOTE_ROUTES + ADMIN_ROUTES + WEBHOOK_ROUTES + MANAGEMENT_ROUTES
               + OPENAPI_ROUTES + BLACKOUT_ROUTES + CUSTOMER_ROUTES + CONSOLE_ROUTES + STREAM_ROUTES)
    add_ops_routes(app, "gateway", metrics, settings, Probes(lambda: app[STORE], lambda: app[RPC].connection))
    app.router.add_route(*API_ROOT_ROUTE)
    # Every other GET is a read: the query service answers it (the known reads are named, so that another method
    # on their paths is a 405). Any other method on a path no route serves is a 404 (as in Alerta), not the 405
    # the GET catch-all would make of it.
    add_routes(app, [("GET", path, forward) for path in READ_PATHS])
    app.router.add_route("GET", "/{tail:.*}", unnamed_read)
    app.router.add_route("*", "/{tail:.*}", unknown_route)
    return app


async def allowed_elsewhere(request: web.Request) -> set[str]:
    """The methods the routes other than the catch-all take on this request's path."""
    catch_all = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not catch_all:
            allowed |= (await resource.resolve(request))[1]
    return allowed


async def unnamed_read(request: web.Request) -> web.StreamResponse:
    """A GET that no named route takes: a 405 on a path served for other methods only (``GET /alert``, as Alerta
    answers it), else a read for the query service."""
    if await allowed_elsewhere(request):
        return await unknown_route(request)
    return await forward(request)


async def unknown_route(request: web.Request) -> web.StreamResponse:
    """A method no route of this path takes: 405 with ``Allow`` where some route serves the path with other
    methods, else 404."""
    allowed = await allowed_elsewhere(request)
    if allowed:
        raise ApiError(405, f"method {request.method} is not allowed here; use {', '.join(sorted(allowed))}",
                       headers={"Allow": ", ".join(sorted(allowed))})
    raise ApiError(404, "not found")
