"""Heartbeat reads: one by id, and the list with ``status``, ``latency`` and ``since`` computed at read time."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from shared.filters import parse_heartbeat_query
from shared.http import ApiError, Handler, base_url, json_response
from shared.render import heartbeat_body, with_href
from shared.schemas import isoformat

from .keys import QUERIES, SETTINGS, STORE
from .views import paged


async def get_heartbeat(request: web.Request) -> web.Response:
    doc = await request.app[STORE].get_heartbeat(request.match_info["id"])
    if doc is None:
        raise ApiError(404, "not found")
    body = heartbeat_body(doc, request.app[SETTINGS].heartbeat_max_latency_ms)
    return json_response({"status": "ok", "total": 1, "heartbeat": with_href(body, base_url(request), "heartbeat")})


async def get_heartbeats(request: web.Request) -> web.Response:
    """``status`` depends on the clock, so it is computed here and filtered here; one heartbeat per origin
    keeps this list small enough to page in memory."""
    settings = request.app[SETTINGS]
    query = parse_heartbeat_query(list(request.query.items()), settings.default_page_size)
    docs = await request.app[QUERIES].heartbeat_list(query.filter, query.sort)
    now = datetime.now(UTC)
    bodies = [heartbeat_body(doc, settings.heartbeat_max_latency_ms, now) for doc in docs]
    if query.statuses:
        bodies = [body for body in bodies if body["status"] in query.statuses]
    base = base_url(request)
    shown = [with_href(body, base, "heartbeat") for body in bodies[query.skip:query.skip + query.page_size]]
    return json_response({"status": "ok", **paged(len(bodies), query), "heartbeats": shown, "time": isoformat(now)})


HEARTBEAT_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/heartbeat/{id}", get_heartbeat),
    ("GET", "/heartbeats", get_heartbeats),
]
