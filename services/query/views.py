"""Read handlers of the query service."""

from __future__ import annotations

from aiohttp import web

from shared.http import ApiError, Handler, base_url, json_response
from shared.render import alert_body, heartbeat_body, with_href

from .keys import SETTINGS, STORE


async def get_alert(request: web.Request) -> web.Response:
    doc = await request.app[STORE].get_alert(request.match_info["id"])
    if doc is None:
        raise ApiError(404, "not found")
    body = with_href(alert_body(doc), base_url(request), "alert")
    return json_response({"status": "ok", "total": 1, "alert": body})


async def get_heartbeat(request: web.Request) -> web.Response:
    doc = await request.app[STORE].get_heartbeat(request.match_info["id"])
    if doc is None:
        raise ApiError(404, "not found")
    body = heartbeat_body(doc, request.app[SETTINGS].heartbeat_max_latency_ms)
    return json_response({"status": "ok", "total": 1, "heartbeat": with_href(body, base_url(request), "heartbeat")})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/alert/{id}", get_alert),
    ("GET", "/heartbeat/{id}", get_heartbeat),
]
