"""Serving the console's files. They are read once, at import, from the package (``static/``, shipped as package
data): a request names one of them by its file name, looked up in a dict, so no path a client sends ever reaches
the file system. Each answer carries an ETag (browsers revalidate, a new release is picked up at once) and the
console's security headers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from shared.http import ApiError, Handler

from .headers import SECURITY_HEADERS

TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
INDEX = "index.html"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for entry in resources.files(__package__).joinpath("static").iterdir():
        suffix = entry.name[entry.name.rfind("."):]
        if entry.is_file() and suffix in TYPES:
            body = entry.read_bytes()
            found[entry.name] = Asset(body, TYPES[suffix], '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return found


ASSETS = load_assets()


def _answer(request: web.Request, asset: Asset) -> web.Response:
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", **SECURITY_HEADERS}
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, content_type=asset.content_type, charset="utf-8", headers=headers)


async def index(request: web.Request) -> web.Response:
    """The console's page, at ``/`` (and ``/api/``): every link in it is relative, so it works under any prefix."""
    return _answer(request, ASSETS[INDEX])


async def asset(request: web.Request) -> web.Response:
    found = ASSETS.get(request.match_info["name"])
    if found is None:
        raise ApiError(404, "not found")
    return _answer(request, found)


async def api_root(request: web.Request) -> web.Response:
    """``/api`` without its slash: a permanent redirect to the console's page at ``/api/`` (the page's links are
    relative, so it must be served under the slash), the query string kept. The ``Location`` is relative (``api/``
    resolved against ``…/api``), so it holds behind a proxy that serves alertbus under a prefix of its own."""
    query = request.rel_url.raw_query_string
    return web.Response(status=301, headers={"Location": "api/" + (f"?{query}" if query else ""), **SECURITY_HEADERS})


CONSOLE_ROUTES: list[tuple[str, str, Handler]] = [("GET", "/", index), ("GET", "/console/{name}", asset)]
# Registered as it is (add_routes would serve it under /api too, at /api/api): GET only, as the page.
API_ROOT_ROUTE: tuple[str, str, Handler] = ("GET", "/api", api_root)
OPEN_CONSOLE_ROUTES = frozenset(path for _, path, _ in [*CONSOLE_ROUTES, API_ROOT_ROUTE])
