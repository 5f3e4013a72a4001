"""What the handlers of the gateway's named records (permissions, groups) share: a new record answered 201 with
its ``Location``, a change answered 200, a name another record holds a 409 with the record's own message, a record
that is gone a 404. Each handler keeps what is its own: the scope, the body's checks, the document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from shared.http import ApiError, base_url, json_response
from shared.store.accounts import AlreadyExists

Shown = Callable[[dict[str, Any], str], dict[str, Any]]  # a stored record as answered, given the base URL


def public_base(request: web.Request) -> str:
    return base_url(request, api_prefix=True)


def changes_named(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a change body names (``null``: unchanged); none → 400."""
    changes = {name: value for name, value in body.items() if value is not None}
    if not changes:
        raise ApiError(400, "nothing to change")
    return changes


async def created(request: web.Request, kind: str, doc: dict[str, Any], add: Awaitable[None], taken: str,
                  shown: Shown) -> web.Response:
    """Answer the creation of ``doc`` (``add`` stores it): 201 ``{"status","id",kind}`` and its ``Location``."""
    try:
        await add
    except AlreadyExists:
        raise ApiError(409, taken) from None
    answer = shown(doc, public_base(request))
    return json_response({"status": "ok", "id": doc["_id"], kind: answer}, status=201,
                         headers={"Location": answer["href"]})


async def changed(request: web.Request, kind: str, update: Awaitable[dict[str, Any] | None], taken: str,
                  shown: Shown) -> web.Response:
    """Answer a change (``update`` applies it, None when the record is gone): 200 ``{"status",kind}``."""
    try:
        doc = await update
    except AlreadyExists:
        raise ApiError(409, taken) from None
    if doc is None:
        raise ApiError(404, "not found")
    return json_response({"status": "ok", kind: shown(doc, public_base(request))})


async def deleted(delete: Awaitable[bool]) -> web.Response:
    if not await delete:
        raise ApiError(404, "not found")
    return json_response({"status": "ok"})
