"""Gateway handlers: alert and heartbeat writes (RPC over RabbitMQ), forwarding of reads, client configuration,
housekeeping on demand. Health, status and metrics are the shared operations routes (shared/http.py)."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from shared.broker import ALERT, HEARTBEAT
from shared.customers import CUSTOMERS_HEADER, encode_bound
from shared.edge import BASE_HEADER, SERVICE_HEADER
from shared.housekeeping import MAX_SECONDS, request_body
from shared.http import (
    REQUEST_ID,
    ApiError,
    Handler,
    base_url,
    json_response,
    read_body,
    read_json,
    request_id,
)
from shared.render import with_href
from shared.rules import Rejected
from shared.schemas import ALERT_SCHEMA, HEARTBEAT_SCHEMA, load_body
from shared.severity import (
    DEFAULT_PREVIOUS_SEVERITY,
    DEFAULT_SEVERITY,
    DEFAULT_STATUS,
    SEVERITY_MAP,
    STATUSES,
)

from .auth import PRINCIPAL
from .keys import CLIENT, METRICS, POLICY, RPC, SETTINGS
from .tenancy import bound, customer_for_write

HOUSEKEEPING_WAIT = 60.0  # seconds housekeeping on demand waits for the worker's report
HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding"}


def require(request: web.Request, scope: str) -> None:
    principal = request[PRINCIPAL]
    if not principal.allows(scope):
        raise ApiError(403, f"missing required scope '{scope}'")


def read_scope(request: web.Request) -> str:
    """The scope a forwarded read needs: ``read:heartbeats`` for heartbeats, ``read:alerts`` for the rest."""
    path = request.path[len("/api"):] if request.path.startswith("/api/") else request.path
    return "read:heartbeats" if path.startswith("/heartbeat") else "read:alerts"


def _wants_async(request: web.Request) -> bool:
    return "respond-async" in request.headers.get("Prefer", "").lower()


async def _publish(request: web.Request, kind: str) -> web.Response:
    """Validate, publish with confirms, and answer with the worker's reply (or 202 when asked to, or when
    the worker did not answer in time: the message is queued and will be processed)."""
    require(request, "write:alerts" if kind == ALERT else "write:heartbeats")
    body = await read_json(request)
    payload = load_body(ALERT_SCHEMA if kind == ALERT else HEARTBEAT_SCHEMA, body)
    customer = customer_for_write(request, payload["customer"])
    if kind == ALERT:
        # Before publishing: a 202 promises that the alert will be stored, so a refusal must come now. (The
        # worker applies the same policy again, for direct publishers.)
        try:
            request.app[POLICY].check(payload)
        except Rejected as exc:
            request.app[METRICS].alerts_received.labels("rejected").inc()
            raise ApiError(403, str(exc)) from None
    # The wire format is the body as sent (direct publishers send the same), with the customer the caller's key
    # gives it when the body named none.
    raw: bytes | dict[str, Any] = await read_body(request)
    if customer != payload["customer"]:
        payload["customer"] = customer
        raw = {**body, "customer": customer}
    rpc, user, rid = request.app[RPC], request[PRINCIPAL].user, request_id(request)
    send = rpc.send_alert if kind == ALERT else rpc.send_heartbeat
    reply = await send(payload, raw, user=user, request_id=rid, wait=not _wants_async(request))
    reply.raise_for_error()  # a worker's refusal: the error middleware answers with its code and message
    if reply.queued:
        return json_response(
            {"status": "ok", "id": reply.id, "message": f"{kind} accepted for processing"}, status=202
        )
    body = reply.body
    if kind not in body:  # no alert to show: suppressed during a blackout (202 and Alerta's message)
        return json_response(body, status=reply.status)
    base = base_url(request, api_prefix=True)
    with_href(body[kind], base, kind)
    return json_response(body, status=reply.status, headers={"Location": body[kind]["href"]})


async def post_alert(request: web.Request) -> web.Response:
    return await _publish(request, ALERT)


async def post_heartbeat(request: web.Request) -> web.Response:
    return await _publish(request, HEARTBEAT)


async def forward(request: web.Request) -> web.StreamResponse:
    """Pass a read to the query service, with the public base URL so that hrefs point at the gateway. The path
    goes downstream exactly as it was checked (``paths`` middleware: no dot segments, no encoded slashes) and
    authorised here, never re-decoded or resolved on the way."""
    require(request, read_scope(request))
    settings = request.app[SETTINGS]
    raw_path = request.raw_path.partition("?")[0]
    api = raw_path.startswith("/api/")
    if api:
        raw_path = raw_path[len("/api"):]
    params = [(k, v) for k, v in request.query.items() if k != "api-key"]
    headers = {
        BASE_HEADER: base_url(request, api_prefix=api),
        REQUEST_ID: request_id(request),
        SERVICE_HEADER: settings.service_secret,
        CUSTOMERS_HEADER: encode_bound(bound(request)),  # whom the read is for: its customers only
        "Accept": "application/json",
    }
    url = URL(settings.gateway.query_url.rstrip("/") + raw_path, encoded=True)
    try:
        async with request.app[CLIENT].get(url, params=params, headers=headers, allow_redirects=False) as upstream:
            body = await upstream.read()
            out = web.Response(body=body, status=upstream.status)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_HEADERS and name.lower() != REQUEST_ID.lower():
                    out.headers[name] = value
            return out
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ApiError(503, f"query service unavailable: {exc.__class__.__name__}") from None


def _hours(request: web.Request, name: str) -> int | None:
    """Alerta's ``?expired=<hours>`` / ``?info=<hours>`` (``alerta housekeeping --expired/--info``), in seconds;
    None when not given (the ingest workers' ``DELETE_EXPIRED_AFTER`` / ``DELETE_INFO_AFTER`` apply)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) > MAX_SECONDS // 3600:
        raise ApiError(400, f"'{name}' must be a whole number of hours up to {MAX_SECONDS // 3600}, got {raw!r}")
    return int(raw) * 3600


async def housekeeping(request: web.Request) -> web.Response:
    """Run housekeeping now (admin). The ingest side owns housekeeping: an ingest worker runs it (under the lease
    the scheduled runs take) and reports what it did (services/ingest/on_demand.py)."""
    require(request, "admin:management")
    body = request_body(_hours(request, "expired"), _hours(request, "info"))
    reply = await request.app[RPC].request_housekeeping(body, user=request[PRINCIPAL].user, timeout=HOUSEKEEPING_WAIT)
    if reply.queued:
        raise ApiError(503, f"no ingest worker reported on the housekeeping run within {HOUSEKEEPING_WAIT:.0f} s "
                            "(is one running? a run may still be in progress)",
                       headers={"Retry-After": "10"})
    return json_response(reply.raise_for_error().body)


async def client_config(request: web.Request) -> web.Response:
    """What the ``alerta`` command-line client fetches before every command (no key needed)."""
    settings = request.app[SETTINGS]
    model = {
        "name": "alertbus",
        "severity": SEVERITY_MAP,
        "colors": {},
        "status": {status: chr(ord("A") + n) for n, status in enumerate(STATUSES)},
        "defaults": {"status": DEFAULT_STATUS, "normal_severity": DEFAULT_SEVERITY,
                     "previous_severity": DEFAULT_PREVIOUS_SEVERITY},
    }
    return json_response({
        "debug": False, "endpoint": base_url(request, api_prefix=True), "alarm_model": model,
        "auth_required": settings.auth_required, "provider": "basic",
        "customer_views": settings.customer_views,
        "signup_enabled": settings.signup_enabled, "email_verification": False, "severity": SEVERITY_MAP, "colors": {},
        "timeouts": {"alert": settings.rules.alert_timeout, "heartbeat": settings.rules.heartbeat_timeout, "ack": 0,
                     "shelve": 7200},
        "blackouts": {"duration": settings.rules.blackout_duration},
    })


ALERT_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/alert", post_alert),
    ("POST", "/heartbeat", post_heartbeat),
]


MANAGEMENT_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/config", client_config),
    # The alerta client's ``housekeeping`` command uses GET, as Alerta allows.
    *[(verb, "/management/housekeeping", housekeeping) for verb in ("POST", "GET")],
]
