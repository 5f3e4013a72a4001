"""The query service: every read of the Alerta API, straight from the store (internal; reached through the
gateway, which passes the public base URL in ``X-Alertbus-Base``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from shared.http import Probes, add_ops_routes, add_routes, make_middlewares
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import open_store

from .heartbeats import HEARTBEAT_ROUTES
from .keys import QUERIES, SETTINGS, STORE
from .notes import NOTE_ROUTES
from .reads import AlertQueries
from .views import ROUTES


async def store_context(app: web.Application) -> AsyncIterator[None]:
    async with open_store(app[SETTINGS].database_url) as store:
        app[STORE] = store
        app[QUERIES] = AlertQueries(store, max_time_ms=app[SETTINGS].query.store_max_time_ms)
        await app[QUERIES].counters.ensure_indexes()
        yield


def create_app(settings: Settings, metrics: Metrics | None = None) -> web.Application:
    metrics = metrics or Metrics()
    app = web.Application(middlewares=make_middlewares("query", metrics, settings, internal=True))
    app[SETTINGS] = settings
    app.cleanup_ctx.append(store_context)
    add_routes(app, ROUTES + HEARTBEAT_ROUTES + NOTE_ROUTES)
    add_ops_routes(app, "query", metrics, settings, Probes(lambda: app[STORE]))
    return app
