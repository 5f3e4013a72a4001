"""Authentication middleware: every route needs a valid API key unless it is open (health, metrics,
CORS preflight) or ``AUTH_REQUIRED=false``."""

from __future__ import annotations

from aiohttp import web

from shared.auth import ANONYMOUS, KeyRing, Principal, presented_key
from shared.http import ApiError, Handler
from shared.settings import Settings
from shared.store import StoreUnavailable
from shared.webhooks import PAGERDUTY_PATHS, SIGNATURE_HEADER

from .keys import KEYRING, SETTINGS

OPEN_PREFIXES = ("/_", "/management", "/metrics", "/config", "/openapi.json", "/api/_", "/api/management",
                 "/api/metrics", "/api/config", "/api/openapi.json")
KEYED_PATHS = ("/management/housekeeping", "/api/management/housekeeping")  # under an open prefix, but admin only
PRINCIPAL = web.RequestKey("principal", Principal)
PAGERDUTY = Principal("pagerduty", frozenset({"write"}))


def is_open(request: web.Request) -> bool:
    if request.method == "OPTIONS":
        return True
    path = request.path
    if path in KEYED_PATHS:
        return False
    return path in ("/", "/api", "/api/") or any(
        path == prefix or path.startswith(prefix + "/") for prefix in OPEN_PREFIXES
    )


def is_signed_webhook(request: web.Request, settings: Settings) -> bool:
    """A PagerDuty webhook that carries a signature while a secret is set: the hooks service verifies it."""
    path = request.path[len("/api"):] if request.path.startswith("/api/") else request.path
    return (bool(settings.pagerduty_webhook_secret) and request.method == "POST" and path in PAGERDUTY_PATHS
            and SIGNATURE_HEADER in request.headers)


async def authenticate(keyring: KeyRing, key: str) -> Principal | None:
    """The key's principal; a key the keyring cannot check while the store is unreachable is a 503 (keys it has
    checked before keep working through the outage: see ``KeyRing.authenticate``)."""
    try:
        return await keyring.authenticate(key)
    except StoreUnavailable:
        raise ApiError(503, "the API key cannot be checked: the store is unavailable; try again shortly") from None


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
    if not key:
        raise ApiError(401, "authentication required: send an API key (Authorization: Key <key>)")
    principal = await authenticate(request.app[KEYRING], key)
    if principal is None:
        raise ApiError(401, "API key is invalid or has expired")
    request[PRINCIPAL] = principal
    return await handler(request)
