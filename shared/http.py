"""HTTP plumbing shared by the aiohttp services: request ids, JSON errors for everything, CORS, metrics."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .metrics import Metrics
from .schemas import BadInput

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


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def make_middlewares(service: str, metrics: Metrics, cors_origins: tuple[str, ...]) -> list[Any]:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = request.headers.get(REQUEST_ID) or str(uuid.uuid4())
        request[RID] = rid
        started = time.perf_counter()
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
        route = _route_name(request)
        metrics.http_requests.labels(service, route, str(response.status)).inc()
        metrics.http_seconds.labels(service, route).observe(time.perf_counter() - started)
        return response

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

    return [errors, cors]


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
