"""The hooks service: inbound webhooks (PagerDuty, Prometheus Alertmanager) turned into alertbus messages, and
the outbound PagerDuty notifier (when ``PAGERDUTY_ROUTING_KEY`` is set). Internal: the gateway forwards the
webhooks to it after authentication."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from shared.backlog import publisher
from shared.http import Probes, add_ops_routes, add_routes, make_middlewares
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import open_store

from .inbound import HOOK_ROUTES
from .keys import CLIENT, METRICS, RPC, SETTINGS, STORE
from .notifier import Notifier
from .replay import replay_context


async def store_context(app: web.Application) -> AsyncIterator[None]:
    async with open_store(app[SETTINGS].database_url, indexes=False, check=False, metrics=app[METRICS]) as store:
        app[STORE] = store
        yield


async def broker_context(app: web.Application) -> AsyncIterator[None]:
    async with publisher(app[SETTINGS], app[METRICS], "hooks") as rpc:
        app[RPC] = rpc
        yield


async def client_context(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        app[CLIENT] = session
        yield


async def notifier_context(app: web.Application) -> AsyncIterator[None]:
    """The PagerDuty notifier, a background consumer on the service's broker connection."""
    notifier = Notifier(app[RPC].connection, app[SETTINGS], app[STORE], app[CLIENT], app[METRICS])
    await notifier.start()
    yield
    await notifier.stop()


def create_app(settings: Settings, metrics: Metrics | None = None) -> web.Application:
    metrics = metrics or Metrics()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=make_middlewares("hooks", metrics, settings, internal=True),
    )
    app[SETTINGS] = settings
    app[METRICS] = metrics
    # Order matters: the notifier uses the store, the broker connection and the HTTP session.
    app.cleanup_ctx.extend([store_context, replay_context, broker_context, client_context])
    if settings.hooks.pagerduty_routing_key:
        app.cleanup_ctx.append(notifier_context)
    add_routes(app, HOOK_ROUTES)
    add_ops_routes(app, "hooks", metrics, settings, Probes(lambda: app[STORE], lambda: app[RPC].connection))
    return app
