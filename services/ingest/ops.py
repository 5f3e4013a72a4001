"""The ingest worker's own small HTTP server (``INGEST_PORT``): ``/metrics`` and the health routes, for
Prometheus and the Kubernetes probes, and ``POST /management/recount``. Started by ``alertbus ingest`` only: in
``alertbus run`` the gateway already serves the registry the whole process shares."""

from __future__ import annotations

from aiohttp import web

from shared.auth import KeyRing, presented_key
from shared.http import ApiError, Probes, add_ops_routes, add_routes, json_response, make_middlewares
from shared.store.accounts import Accounts
from shared.store.counters import Counters
from shared.store.leases import LeaseBusy

from .app import Worker


class Recount:
    """``POST /management/recount`` (admin key): recompute the materialised counters from the alerts, for a
    database whose counters are off (see shared/store/counters.py). One scan of every alert; the counts are
    served by aggregation meanwhile."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def authorise(self, request: web.Request) -> None:
        settings, store = self.worker.settings, self.worker.store
        if not settings.auth_required:
            return
        key = presented_key(request)
        if store is None:
            raise ApiError(503, "the store is not connected")
        principal = await KeyRing(Accounts(store), settings.admin_key, settings.admin_users).authenticate(key or "")
        if principal is None:
            raise ApiError(401, "an API key is required")
        if not principal.allows("admin"):
            raise ApiError(403, "the recount needs an admin key")

    async def post(self, request: web.Request) -> web.Response:
        await self.authorise(request)
        assert self.worker.store is not None
        try:
            done = await Counters(self.worker.store).rebuild()
        except LeaseBusy:
            raise ApiError(409, "a recount or a counter recovery is running; try again later") from None
        return json_response({"status": "ok", **done})


def create_ops_app(worker: Worker) -> web.Application:
    app = web.Application(middlewares=make_middlewares("ingest", worker.metrics, worker.settings))
    probes = Probes(lambda: worker.store, lambda: worker.connection)
    add_ops_routes(app, "ingest", worker.metrics, worker.settings, probes)
    add_routes(app, [("POST", "/management/recount", Recount(worker).post)])
    return app
