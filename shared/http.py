"""HTTP plumbing shared by the aiohttp services: request ids, JSON errors for everything (mapped in one place:
shared/responses.py), CORS, metrics, and the operations routes every service serves (``/_``, ``/management/*``,
``/metrics``)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from aio_pika.abc import AbstractConnection
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import logs
from .edge import BASE_HEADER, PublicBase, is_internal_caller, path_problem, valid_request_id
from .metrics import Metrics
from .responses import ApiError as ApiError  # re-exported: handlers raise it from here
from .responses import answer, error_response
from .responses import json_response as json_response
from .schemas import BadInput
from .settings import Settings
from .store import Store
from .store.housekeeping import HousekeepingQueries

log = logging.getLogger("alertbus.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = "X-Request-ID"
RID = web.RequestKey("request_id", str)
CORS_HEADERS = "Origin, X-Requested-With, Content-Type, Accept, Authorization, X-API-Key, X-Request-ID, Prefer"
CORS_METHODS = "GET, POST, PUT, DELETE, OPTIONS"


def request_id(request: web.Request) -> str:
    return str(request.get(RID, ""))


PUBLIC = web.RequestKey("public_base", PublicBase)
GATEWAY_CALL = web.RequestKey("gateway_call", bool)  # an internal service's caller presented SERVICE_SECRET


def base_url(request: web.Request, api_prefix: bool = False) -> str:
    """The public base URL for links in an answer: on an internal service, what the (authenticated) gateway
    passed; on the gateway, from configuration (see ``PublicBase``), never from what a client sent."""
    if request.get(GATEWAY_CALL):
        forwarded = request.headers.get(BASE_HEADER, "")
        if forwarded:
            return forwarded.rstrip("/")
    return request[PUBLIC].for_request(request, api_prefix)


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def make_middlewares(service: str, metrics: Metrics, settings: Settings, *, internal: bool = False) -> list[Any]:
    """The middlewares of every HTTP service. ``internal``: the service answers only the gateway (which presents
    ``SERVICE_SECRET``), but for the operations routes."""
    cors_origins = settings.gateway.cors_origins
    edge = settings.gateway
    public = PublicBase.from_config(edge.public_url, edge.trusted_proxies, settings.host, edge.port)

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        sent = request.headers.get(REQUEST_ID)
        rid = sent if sent and valid_request_id(sent) else str(uuid.uuid4())
        request[RID] = rid
        request[PUBLIC] = public
        started = time.perf_counter()
        response: web.StreamResponse
        with logs.bound(rid):  # every log line of the request carries its id
            if sent and rid != sent:  # refused, not replaced: the client would look for its own id
                response = error_response(400, f"the {REQUEST_ID} header must be 1 to 200 printable ASCII "
                                               "characters", rid)
            else:
                response = await answer(request, handler, rid)
            response.headers[REQUEST_ID] = rid
        route = _route_name(request)
        metrics.http_requests.labels(service, route, str(response.status)).inc()
        metrics.http_seconds.labels(service, route).observe(time.perf_counter() - started)
        if log.isEnabledFor(logging.DEBUG):  # an access log, off at the default level
            log.debug("%s %s %s", request.method, logs.redact_path(request.path), response.status,
                      extra={"service": service, "route": route, "code": response.status, "request_id": rid})
        return response

    @web.middleware
    async def paths(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse ambiguous paths before any route or authentication decision sees them."""
        try:
            problem = path_problem(request.raw_path.partition("?")[0])
        except UnicodeDecodeError:
            problem = "the path is not valid percent-encoded UTF-8"
        if problem:
            raise ApiError(400, problem)
        return await handler(request)

    @web.middleware
    async def gateway_only(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not is_internal_caller(request, settings.service_secret):
            raise ApiError(401, f"this is an internal {service} service: only the gateway may call it")
        request[GATEWAY_CALL] = True
        return await handler(request)

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
            response: web.StreamResponse = web.Response(status=200)
        else:
            response = await handler(request)
        allowed = "*" in cors_origins or (origin is not None and origin in cors_origins)
        if origin and allowed:
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in cors_origins else origin
            response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
            response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            response.headers["Access-Control-Expose-Headers"] = f"{REQUEST_ID}, Location"
            response.headers["Access-Control-Max-Age"] = "21600"
        return response

    return [errors, paths, gateway_only, cors] if internal else [errors, paths, cors]


def add_routes(app: web.Application, routes: list[tuple[str, str, Handler]]) -> None:
    """Register every route both bare and under ``/api``, as Alerta deployments use both."""
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, "/api" + path, handler)


# Slow clients: a connection that has not sent a whole request head within this many seconds (and an idle
# keep-alive connection) is closed, and a body must arrive within BODY_SECONDS, so that a client trickling bytes
# cannot hold a connection (and its memory) for long. Passed to every aiohttp server alertbus starts.
SERVER_OPTIONS: dict[str, Any] = {"keepalive_timeout": 15.0, "max_line_size": 8190, "max_field_size": 8190,
                                  "max_headers": 64}
BODY_SECONDS = 30.0


async def read_body(request: web.Request) -> bytes:
    try:
        async with asyncio.timeout(BODY_SECONDS):
            return await request.read()
    except TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {BODY_SECONDS:.0f} s") from None


async def read_json(request: web.Request) -> Any:
    from .schemas import parse_json

    raw = await read_body(request)
    if not raw:
        raise BadInput("request body is empty; a JSON object was expected")
    return parse_json(raw)


# -- operations: health, status, manifest, metrics (every service, no key needed) ----------------------------

PING_TIMEOUT = 2.0  # seconds gtg waits for the store: a probe must answer before its own timeout
DESCRIPTION = "Alerta REST API v3 alert server: event-driven services over RabbitMQ and MongoDB"


def version() -> str:
    try:
        return metadata.version("alertbus")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Probes:
    """How the operations routes reach a service's dependencies. Looked up per request, as cleanup contexts open
    them after the routes are registered; a lookup that fails (not open yet) means "unavailable". ``broker`` is
    None for a service without a broker connection."""

    store: Callable[[], Store | None]
    broker: Callable[[], AbstractConnection | None] | None = None


class OpsRoutes:
    """Alerta's management endpoints and the Prometheus scrape, for one service of a process."""

    def __init__(self, service: str, metrics: Metrics, settings: Settings, probes: Probes) -> None:
        self.service, self.metrics, self.settings, self.probes = service, metrics, settings, probes
        self.started = time.time()

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/_", self.echo), ("GET", "/management/gtg", self.good_to_go),
            ("GET", "/management/healthcheck", self.healthcheck), ("GET", "/management/status", self.status),
            ("GET", "/management/manifest", self.manifest), ("GET", "/metrics", self.prometheus),
        ]

    async def echo(self, request: web.Request) -> web.Response:
        """Liveness: answers while the process serves HTTP, whatever its dependencies do."""
        return json_response({"status": "ok", "service": self.service, "method": request.method,
                              "args": {k: v for k, v in request.query.items() if k != "api-key"}})

    def _store(self) -> Store | None:
        try:
            return self.probes.store()
        except KeyError:
            return None

    async def problems(self) -> list[str]:
        found = []
        if self.probes.broker is not None:
            try:
                connection = self.probes.broker()
            except KeyError:
                connection = None
            # A robust connection that is reconnecting is not closed, yet nothing goes through it.
            if connection is None or connection.is_closed or not connection.connected.is_set():
                found.append("broker connection down")
        store = self._store()
        try:
            if store is None:
                raise ConnectionError("not connected")
            async with asyncio.timeout(PING_TIMEOUT):
                await store.ping()
        except Exception as exc:  # any failure to answer in time means "not good to go"
            found.append(f"store unavailable: {type(exc).__name__}")
        return found

    async def good_to_go(self, request: web.Request) -> web.Response:
        """Readiness: 200 only while the broker connection is open and the store answers."""
        problems = await self.problems()
        body = {"status": "error" if problems else "ok", "service": self.service, "problems": problems}
        return json_response(body, status=503 if problems else 200)

    async def healthcheck(self, request: web.Request) -> web.Response:
        """As Alerta: text, ``OK``, or 503 with a line ``HEARTBEAT_STALE: <origin>`` per expired heartbeat."""
        store = self._store()
        try:
            if store is None:
                raise ConnectionError("not connected")
            expired = HousekeepingQueries(store).expired_origins(
                datetime.now(UTC), max_time_ms=int(2 * PING_TIMEOUT * 1000))
            async with asyncio.timeout(2 * PING_TIMEOUT):
                stale = await expired
        except Exception:  # the store is down or slow: that is the answer
            return web.Response(text="HEALTH_CHECK_FAILED: store unavailable", status=503)
        if stale:
            return web.Response(text="".join(f"HEARTBEAT_STALE: {origin}\n" for origin in stale), status=503)
        return web.Response(text="OK")

    async def status(self, request: web.Request) -> web.Response:
        """What ``alerta status`` and ``alerta top`` read: version, uptime and the counters and timers."""
        now = time.time()
        return json_response({
            "status": "ok", "application": "alertbus", "service": self.service, "version": version(),
            "time": int(now * 1000), "uptime": int((now - self.started) * 1000),
            "metrics": self.metrics.status_list(),
        })

    async def manifest(self, request: web.Request) -> web.Response:
        s = self.settings
        build = {"release": version(), "build": s.build_number, "date": s.build_date, "revision": s.build_revision}
        # Alerta's server answers the four fields flat; its web console's manifest nests them with a label.
        return json_response({**build, "alertbus": {"label": "alertbus", **build, "description": DESCRIPTION}})

    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.metrics.served()), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_ops_routes(app: web.Application, service: str, metrics: Metrics, settings: Settings, probes: Probes) -> None:
    """``/_``, ``/management/{gtg,healthcheck,status,manifest}`` and ``/metrics``, bare and under ``/api``. When
    services share a process they share ``metrics``, so each serves the same registry."""
    add_routes(app, OpsRoutes(service, metrics, settings, probes).routes())
