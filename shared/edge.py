"""What every HTTP service decides about a request before routing it to a handler: is its path unambiguous, is
its request id usable, may this caller reach an internal service, and which public URL do links in the answer
use. Each decision is a pure function here; shared/http.py turns them into middlewares."""

from __future__ import annotations

import hmac
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import web

DECODE_ROUNDS = 3  # a path decoded this many times and still changing is refused (layered encodings)
SERVICE_HEADER = "X-Alertbus-Service-Secret"  # the gateway proves itself to the internal services with it
BASE_HEADER = "X-Alertbus-Base"  # the public base URL, passed by the gateway to internal services
# Routes every port answers without a key or secret: liveness, readiness, status and the Prometheus scrape.
OPS_ROUTES = frozenset({"/_", "/management/gtg", "/management/healthcheck", "/management/status",
                        "/management/manifest", "/metrics"})
REQUEST_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # printable ASCII: it is echoed in a header and logged
FORWARDED_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")
FORWARDED_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+){0,8}")


def path_problem(raw_path: str) -> str | None:
    """Why a request path is refused before routing and authentication, or None. Dot segments (``.``, ``..``),
    encoded slashes and backslashes are refused in every encoding (``%2e``, ``%2f``, ``%5c``, double encodings):
    no route of the Alerta API needs them, and a URL library downstream would resolve them into another route
    than the one authorised. Raises ``UnicodeDecodeError`` for a percent-encoding that is not UTF-8."""
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


def valid_request_id(value: str) -> bool:
    return REQUEST_ID_PATTERN.fullmatch(value) is not None


def route_path(request: web.Request) -> str:
    """The path pattern of the route a request matched, without the ``/api`` prefix ("" when none matched).
    Security decisions use it, never a prefix of the request's path: a catch-all route matches any path."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else ""
    return path[len("/api"):] if path.startswith("/api/") else path


def same_secret(presented: str, secret: str) -> bool:
    """Constant-time comparison; any string (lone surrogates included) compares, an empty secret never matches."""
    if not secret:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), secret.encode("utf-8", "surrogatepass"))


def is_internal_caller(request: web.Request, secret: str) -> bool:
    """May this request reach an internal service's route? Operations routes (probes, metrics) are open, as on
    every port; everything else needs the installation's ``SERVICE_SECRET`` (the gateway sends it)."""
    if request.method == "OPTIONS" or route_path(request) in OPS_ROUTES:
        return True
    return same_secret(request.headers.get(SERVICE_HEADER, ""), secret)


@dataclass(frozen=True)
class PublicBase:
    """Where clients reach the gateway: the base of every ``href``, ``Location`` and ``/config``'s endpoint.

    Never taken from the ``Host`` header a client sends (a poisoned answer could be cached for everyone):
    ``PUBLIC_URL`` when configured; else ``X-Forwarded-Proto``/``-Host``/``-Prefix`` from a peer listed in
    ``TRUSTED_PROXIES``; else the gateway's own address."""

    public_url: str
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    fallback: str

    @classmethod
    def from_config(cls, public_url: str, trusted_proxies: tuple[str, ...], host: str, port: int) -> PublicBase:
        shown = "localhost" if host in ("0.0.0.0", "::", "") else host
        shown = f"[{shown}]" if ":" in shown else shown
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies)
        return cls(public_url.rstrip("/"), networks, f"http://{shown}:{port}")

    def _trusts(self, peer: str | None) -> bool:
        if not peer or not self.trusted:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def _forwarded(self, request: web.Request) -> str | None:
        host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
        if not host or not FORWARDED_HOST.fullmatch(host):
            return None
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        prefix = request.headers.get("X-Forwarded-Prefix", "").split(",")[0].strip().rstrip("/")
        if not FORWARDED_PREFIX.fullmatch(prefix):
            prefix = ""
        return f"{proto if proto in ('http', 'https') else 'http'}://{host}{prefix}"

    def for_request(self, request: web.Request, api_prefix: bool = False) -> str:
        base = self.public_url or (self._trusts(request.remote) and self._forwarded(request)) or self.fallback
        return base + ("/api" if api_prefix and request.path.startswith("/api/") else "")
