"""Operator commands on stored alerts and heartbeats: validated here, applied by the ingest workers in
order with the other messages of the alert's group (RPC over RabbitMQ, like ``POST /alert``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shared.commands import ACTION, DELETE, DELETE_HEARTBEAT, STATUS, TAG, UNTAG
from shared.http import ApiError, Handler, json_response, read_json, request_id
from shared.replies import Reply
from shared.schemas import ACTION_BODY, STATUS_BODY, TAGS_BODY, load_body

from .auth import PRINCIPAL
from .keys import RPC, STORE
from .tenancy import bound, check_visible
from .views import require


async def send_command(request: web.Request, payload: dict[str, Any]) -> Reply:
    """Publish a command as the caller and wait for the worker's reply; a refusal raises ``ReplyError``. A bound
    caller's customers go with it: the worker acts only on an alert of theirs (the alert may change hands between
    the look-up here and the worker's load)."""
    payload["user"] = request[PRINCIPAL].user
    customers = bound(request)
    if customers:
        payload["customers"] = sorted(customers)
    reply = await request.app[RPC].send_command(payload, user=payload["user"], request_id=request_id(request))
    return reply.raise_for_error()


def command_answer(reply: Reply) -> web.Response:
    if reply.queued:
        return json_response({"status": "ok", "message": "command accepted for processing"}, status=202)
    return json_response(reply.body, status=reply.status)


async def _send(request: web.Request, payload: dict[str, Any]) -> web.Response:
    return command_answer(await send_command(request, payload))


async def alert_command(request: web.Request, op: str, params: dict[str, Any], *, missing: str = "not found") -> Reply:
    """A command on the alert the path names, routed with its group (``missing``: the 404's message)."""
    require(request, "write:alerts")
    doc = await request.app[STORE].get_alert(request.match_info["id"], fields=["environment", "resource"],
                                             customers=bound(request))  # another customer's is not there
    if doc is None:
        raise ApiError(404, missing)
    payload = {"op": op, "id": doc["_id"], "environment": doc["environment"], "resource": doc["resource"]}
    return await send_command(request, {**payload, **params})


async def _alert_command(request: web.Request, op: str, params: dict[str, Any]) -> web.Response:
    return command_answer(await alert_command(request, op, params))


async def set_status(request: web.Request) -> web.Response:
    body = load_body(STATUS_BODY, await read_json(request))
    return await _alert_command(request, STATUS, body)


async def take_action(request: web.Request) -> web.Response:
    body = load_body(ACTION_BODY, await read_json(request))
    return await _alert_command(request, ACTION, body)


async def tag(request: web.Request) -> web.Response:
    return await _alert_command(request, TAG, load_body(TAGS_BODY, await read_json(request)))


async def untag(request: web.Request) -> web.Response:
    return await _alert_command(request, UNTAG, load_body(TAGS_BODY, await read_json(request)))


async def delete_alert(request: web.Request) -> web.Response:
    return await _alert_command(request, DELETE, {})


async def delete_heartbeat(request: web.Request) -> web.Response:
    require(request, "write:heartbeats")
    doc = await request.app[STORE].get_heartbeat(request.match_info["id"])
    if doc is None:
        raise ApiError(404, "not found")
    check_visible(request, doc.get("customer"))
    return await _send(request, {"op": DELETE_HEARTBEAT, "id": doc["_id"], "origin": doc["origin"]})


def method_override(delete: Handler) -> Handler:
    """v3's ``POST /<resource>/{id}`` with ``{"_method": "delete"}`` means DELETE."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        if not isinstance(body, dict) or str(body.get("_method", "")).lower() != "delete":
            raise ApiError(405, "POST here needs {\"_method\": \"delete\"}; use DELETE")
        return await delete(request)

    return handler


COMMAND_ROUTES: list[tuple[str, str, Handler]] = [
    *[(verb, "/alert/{id}/status", set_status) for verb in ("POST", "PUT")],
    *[(verb, "/alert/{id}/action", take_action) for verb in ("POST", "PUT")],
    *[(verb, "/alert/{id}/tag", tag) for verb in ("POST", "PUT")],
    *[(verb, "/alert/{id}/untag", untag) for verb in ("POST", "PUT")],
    ("DELETE", "/alert/{id}", delete_alert),
    ("POST", "/alert/{id}", method_override(delete_alert)),
    ("DELETE", "/heartbeat/{id}", delete_heartbeat),
    ("POST", "/heartbeat/{id}", method_override(delete_heartbeat)),
]
