"""Heartbeat reads: one by id, and the list with ``status``, ``latency`` and ``since`` computed at read time."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from shared.fieldtypes import isoformat
from shared.http import ApiError, Handler, base_url, json_response
from shared.paging import listed
from shared.render import heartbeat_body, with_href

from .filters import parse_heartbeat_query
from .keys import QUERIES, SETTINGS, STORE
from .tenancy import check_visible, restricted
from .views import paged


async def get_heartbeat(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    doc = await request.app[STORE].get_heartbeat(request.match_info["id"], max_time_ms=settings.query.store_max_time_ms)
    if doc is None:
        raise ApiError(404, "not found")
    check_visible(request, doc)
    body = heartbeat_body(doc, settings.rules.heartbeat_max_latency_ms)
    return json_response({"status": "ok", "total": 1, "heartbeat": with_href(body, base_url(request), "heartbeat")})


async def get_heartbeats(request: web.Request) -> web.Response:
    """One page, paged in the store: ``status`` depends on the clock, so the store matches it against ``now``,
    the same instant the page is rendered with (one heartbeat per origin and customer is still no bound on their
    number)."""
    settings = request.app[SETTINGS]
    query = parse_heartbeat_query(list(request.query.items()), settings.query.default_page_size)
    now = datetime.now(UTC)
    docs, total = await request.app[QUERIES].heartbeat_page(
        restricted(request, query.filter), query.statuses, query.sort, query.skip, query.page_size, now=now,
        max_latency_ms=settings.rules.heartbeat_max_latency_ms,
    )
    base = base_url(request)
    latency = settings.rules.heartbeat_max_latency_ms
    shown = [with_href(heartbeat_body(doc, latency, now), base, "heartbeat") for doc in docs]
    return json_response(listed("heartbeats", shown, **paged(total, query), time=isoformat(now)))


HEARTBEAT_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/heartbeat/{id}", get_heartbeat),
    ("GET", "/heartbeats", get_heartbeats),
]
