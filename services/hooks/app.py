"""The hooks service: inbound webhooks (PagerDuty, Prometheus Alertmanager) turned into alertbus messages.

Only the service frame exists so far; the webhooks themselves are issue #5.
"""

from __future__ import annotations

from aiohttp import web

from shared.http import add_routes, json_response, make_middlewares
from shared.metrics import Metrics
from shared.settings import Settings


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "service": "hooks"})


def create_app(settings: Settings, metrics: Metrics | None = None) -> web.Application:
    metrics = metrics or Metrics()
    app = web.Application(middlewares=make_middlewares("hooks", metrics, settings.cors_origins))
    add_routes(app, [("GET", "/_", health)])
    return app
