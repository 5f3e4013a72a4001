"""Authentication middleware: every route needs a valid API key or login token (``Authorization: Bearer``)
unless it is open (health, metrics, CORS preflight, login and sign-up) or ``AUTH_REQUIRED=false``."""

from __future__ import annotations

import math

from aiohttp import web

from shared.auth import ANONYMOUS, KeyRing, Principal, presented_key, presented_token
from shared.edge import route_path
from shared.http import ApiError, Handler, base_url
from shared.settings import Settings
from shared.store import StoreUnavailable
from shared.tokens import BadToken
from shared.webhooks import PAGERDUTY_PATHS, SIGNATURE_HEADER

from .console import OPEN_CONSOLE_ROUTES
from .keys import KEYRING, SETTINGS, THROTTLE, TOKENS

# Routes that answer without a key, by the route a request matched (never by a prefix of its path: the catch-all
# read forwarder matches any path, and a path that merely starts like an open route is still a keyed read).
# The console's page and files are open too (they hold no data); its API calls and /stream are not.
OPEN_ROUTES = frozenset({"/_", "/management/gtg", "/management/healthcheck", "/management/status",
                         "/management/manifest", "/metrics", "/config", "/openapi.json",
                         "/auth/login", "/auth/signup"}) | OPEN_CONSOLE_ROUTES
PRINCIPAL = web.RequestKey("principal", Principal)
PAGERDUTY = Principal("pagerduty", frozenset({"write"}))


def is_open(request: web.Request) -> bool:
    return request.method == "OPTIONS" or route_path(request) in OPEN_ROUTES


def is_signed_webhook(request: web.Request, settings: Settings) -> bool:
    """A PagerDuty webhook that carries a signature while a secret is set: the hooks service verifies it."""
    return (bool(settings.hooks.pagerduty_webhook_secret) and request.method == "POST"
            and route_path(request) in PAGERDUTY_PATHS and SIGNATURE_HEADER in request.headers)


async def authenticate(keyring: KeyRing, key: str) -> Principal | None:
    """The key's principal; a key the keyring cannot check while the store is unreachable is a 503 (keys it has
    checked before keep working through the outage: see ``KeyRing.authenticate``)."""
    try:
        return await keyring.authenticate(key)
    except StoreUnavailable:
        raise ApiError(503, "the API key cannot be checked: the store is unavailable; try again shortly") from None


def bearer(request: web.Request, token: str) -> Principal:
    """The principal of a login token: checked by its signature alone (no store round-trip), so a bad token costs
    nothing and is not throttled; its scopes are those decided at login (as in Alerta)."""
    if not token:
        raise ApiError(401, "Missing authorization Bearer token")
    try:
        return request.app[TOKENS].principal(token, base_url(request))
    except BadToken as exc:
        raise ApiError(401, str(exc)) from None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    key = presented_key(request)
    if not settings.auth_required or is_open(request):
        request[PRINCIPAL] = ANONYMOUS
        return await handler(request)
    if is_signed_webhook(request, settings):
        request[PRINCIPAL] = PAGERDUTY
        return await handler(request)
    token = presented_token(request)
    if token is not None:
        request[PRINCIPAL] = bearer(request, token)
        return await handler(request)
    if not key:
        raise ApiError(401, "authentication required: send an API key (Authorization: Key <key>) or a login token "
                            "(Authorization: Bearer <token>)")
    keyring, throttle, address = request.app[KEYRING], request.app[THROTTLE], request.remote or ""
    wait = 0.0 if keyring.is_known(key) else throttle.retry_after(address)
    if wait:
        raise ApiError(429, "too many failed authentications from this address; try again later",
                       headers={"Retry-After": str(math.ceil(wait))})
    principal = await authenticate(keyring, key)
    if principal is None:
        throttle.failed(address)
        raise ApiError(401, "API key is invalid or has expired")
    request[PRINCIPAL] = principal
    return await handler(request)
