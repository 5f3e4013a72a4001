"""HTTP plumbing shared by the aiohttp services: request ids, JSON errors for everything, CORS, metrics, and the
operations routes every service serves (``/_``, ``/management/*``, ``/metrics``)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from urllib.parse import unquote

from aio_pika.abc import AbstractConnection
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import logs
from .metrics import Metrics
from .render import heartbeat_body
from .schemas import BadInput
from .settings import Settings
from .store import Store
from .store.housekeeping import HousekeepingQueries

log = logging.getLogger("alertbus.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = "X-Request-ID"
RID = web.RequestKey("request_id", str)
BASE_HEADER = "X-Alertbus-Base"  # the public base URL, passed by the gateway to internal services
CORS_HEADERS = "Origin, X-Requested-With, Content-Type, Accept, Authorization, X-API-Key, X-Request-ID, Prefer"
CORS_METHODS = "GET, POST, PUT, DELETE, OPTIONS"


class ApiError(Exception):
    """An error with an HTTP status, rendered as Alerta's JSON error body."""

    def __init__(self, code: int, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.errors = code, message, errors


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), default=str)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=dumps(body), status=status, content_type="application/json", headers=headers)


def error_response(code: int, message: str, request_id: str, errors: Any = None) -> web.Response:
    body = {"status": "error", "message": message, "code": code, "errors": errors, "requestId": request_id}
    return json_response(body, status=code)


def request_id(request: web.Request) -> str:
    return request.get(RID, "")


def base_url(request: web.Request, api_prefix: bool = False) -> str:
    forwarded = request.headers.get(BASE_HEADER)
    if forwarded:
        return forwarded.rstrip("/")
    prefix = "/api" if api_prefix and request.path.startswith("/api/") else ""
    return f"{request.scheme}://{request.host}{prefix}"


DECODE_ROUNDS = 3  # a path decoded this many times and still changing is refused (layered encodings)


def path_problem(raw_path: str) -> str | None:
    """Why a request path is refused before routing and authentication, or None. Dot segments (``.``, ``..``),
    encoded slashes and backslashes are refused in every encoding (``%2e``, ``%2f``, ``%5c``, double encodings):
    no route of the Alerta API needs them, and a URL library downstream would resolve them into another route
    than the one authorised."""
    path = raw_path
    for _ in range(DECODE_ROUNDS):
        if "\\" in path:
            return "the path must not contain a backslash"
        if any(segment in (".", "..") for segment in path.split("/")):
            return "the path must not contain dot segments ('.' or '..')"
        decoded = unquote(path, errors="strict")
        if decoded == path:
            return None
        if decoded.count("/") != path.count("/"):
            return "the path must not contain an encoded slash"
        path = decoded
    return "the path is encoded too many times"


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


async def _handle(request: web.Request, handler: Handler, rid: str) -> web.StreamResponse:
    """The handler's response, or the JSON error for whatever it raised."""
    try:
        response = await handler(request)
    except ApiError as exc:
        response = error_response(exc.code, exc.message, rid, exc.errors)
    except BadInput as exc:
        response = error_response(400, exc.message, rid, exc.errors)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app._client_max_size  # aiohttp keeps the limit only here
        response = error_response(413, f"request body is larger than the limit of {limit} bytes", rid)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(exc.status, exc.reason if exc.status != 404 else "not found", rid)
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = error_response(500, "internal error", rid)
    response.headers[REQUEST_ID] = rid
    return response


def make_middlewares(service: str, metrics: Metrics, cors_origins: tuple[str, ...]) -> list[Any]:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = request.headers.get(REQUEST_ID) or str(uuid.uuid4())
        request[RID] = rid
        started = time.perf_counter()
        with logs.bound(rid):  # every log line of the request carries its id
            response = await _handle(request, handler, rid)
        route = _route_name(request)
        metrics.http_requests.labels(service, route, str(response.status)).inc()
        metrics.http_seconds.labels(service, route).observe(time.perf_counter() - started)
        if log.isEnabledFor(logging.DEBUG):  # an access log, off at the default level
            log.debug("%s %s %s", request.method, request.path, response.status,
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

    return [errors, paths, cors]


def add_routes(app: web.Application, routes: list[tuple[str, str, Handler]]) -> None:
    """Register every route both bare and under ``/api``, as Alerta deployments use both."""
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
        app.router.add_route(method, "/api" + path, handler)


async def read_json(request: web.Request) -> Any:
    from .schemas import parse_json

    raw = await request.read()
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
            await asyncio.wait_for(store.ping(), PING_TIMEOUT)
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
            docs = await asyncio.wait_for(HousekeepingQueries(store).all_heartbeats(), 2 * PING_TIMEOUT)
        except Exception:  # the store is down or slow: that is the answer
            return web.Response(text="HEALTH_CHECK_FAILED: store unavailable", status=503)
        now = datetime.now(UTC)
        stale = [doc["origin"] for doc in docs
                 if heartbeat_body(doc, self.settings.heartbeat_max_latency_ms, now)["status"] == "expired"]
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
        return web.Response(body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_ops_routes(app: web.Application, service: str, metrics: Metrics, settings: Settings, probes: Probes) -> None:
    """``/_``, ``/management/{gtg,healthcheck,status,manifest}`` and ``/metrics``, bare and under ``/api``. When
    services share a process they share ``metrics``, so each serves the same registry."""
    add_routes(app, OpsRoutes(service, metrics, settings, probes).routes())
