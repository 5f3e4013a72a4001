"""The ingest worker's own small HTTP server (``INGEST_PORT``): ``/metrics`` and the health routes, for
Prometheus and the Kubernetes probes. Started by ``alertbus ingest`` only: in ``alertbus run`` the gateway
already serves the registry the whole process shares."""

from __future__ import annotations

from aiohttp import web

from shared.http import Probes, add_ops_routes, make_middlewares

from .app import Worker


def create_ops_app(worker: Worker) -> web.Application:
    app = web.Application(middlewares=make_middlewares("ingest", worker.metrics, worker.settings.cors_origins))
    probes = Probes(lambda: worker.store, lambda: worker.connection)
    add_ops_routes(app, "ingest", worker.metrics, worker.settings, probes)
    return app
