"""Webhooks (PagerDuty, Prometheus Alertmanager): authenticated here (scope ``write``; ``?api-key=`` is what
these senders can set), then forwarded to the internal hooks service, which turns them into alerts and
commands. A PagerDuty request signed with ``X-PagerDuty-Signature`` (when ``PAGERDUTY_WEBHOOK_SECRET`` is set)
needs no key: the hooks service checks its signature (see ``auth.py``)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from shared.customers import CUSTOMERS_HEADER, encode_bound
from shared.edge import BASE_HEADER, SERVICE_HEADER
from shared.http import REQUEST_ID, ApiError, Handler, base_url, read_body, request_id
from shared.webhooks import PAGERDUTY_PATHS, PROMETHEUS_PATH, SIGNATURE_HEADER, USER_HEADER

from .auth import PRINCIPAL
from .keys import CLIENT, SETTINGS
from .tenancy import bound
from .views import HOP_HEADERS, require

# Only these request headers reach the hooks service: never a client's own X-Alertbus-User.
PASSED_HEADERS = ("Content-Type", SIGNATURE_HEADER, "Prefer")


async def forward_webhook(request: web.Request) -> web.StreamResponse:
    require(request, "write:webhooks")
    settings = request.app[SETTINGS]
    api = request.path.startswith("/api/")
    path = request.path[len("/api"):] if api else request.path
    headers = {name: request.headers[name] for name in PASSED_HEADERS if name in request.headers}
    headers.update({
        BASE_HEADER: base_url(request, api_prefix=api),
        REQUEST_ID: request_id(request),
        USER_HEADER: request[PRINCIPAL].user,
        CUSTOMERS_HEADER: encode_bound(bound(request)),  # whose alerts the webhook may make and change
        SERVICE_HEADER: settings.service_secret,
    })
    params = [(k, v) for k, v in request.query.items() if k != "api-key"]
    body = await read_body(request)  # as sent: a signature covers the raw bytes
    try:
        async with request.app[CLIENT].post(
            settings.gateway.hooks_url + path, data=body, params=params, headers=headers, allow_redirects=False
        ) as upstream:
            out = web.Response(body=await upstream.read(), status=upstream.status)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_HEADERS and name.lower() != REQUEST_ID.lower():
                    out.headers[name] = value
            return out
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ApiError(503, f"hooks service unavailable: {exc.__class__.__name__}") from None


WEBHOOK_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", path, forward_webhook) for path in (*PAGERDUTY_PATHS, PROMETHEUS_PATH)
]
