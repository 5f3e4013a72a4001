"""Groups of users (Alerta 9.1's ``/group``, ``/groups``): a group's name counts as a role when its members log in
(a permission whose ``match`` is the group's name gives them its scopes)."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from shared.account_schemas import GROUP_BODY
from shared.http import ApiError, Handler, json_response, read_json
from shared.schemas import load_body
from shared.users import user_body

from .keys import USERS
from .listing import one_page
from .records import changed, changes_named, created, deleted, public_base
from .views import require


def group_body(doc: dict[str, Any], base: str) -> dict[str, Any]:
    return {"id": doc["_id"], "href": f"{base}/group/{doc['_id']}", "name": doc["name"], "text": doc.get("text") or "",
            "count": len(doc.get("users") or [])}


async def _group(request: web.Request) -> dict[str, Any]:
    doc = await request.app[USERS].group(request.match_info["id"])
    if doc is None:
        raise ApiError(404, "not found")
    return doc


async def create_group(request: web.Request) -> web.Response:
    require(request, "admin:groups")
    body = load_body(GROUP_BODY, await read_json(request))
    if not body.get("name"):
        raise ApiError(400, "Missing mandatory value for name")
    doc = {"_id": str(uuid.uuid4()), "name": body["name"], "text": body.get("text") or "", "users": []}
    return await created(request, "group", doc, request.app[USERS].add_group(doc),
                         f"group {body['name']} already exists", group_body)


async def get_group(request: web.Request) -> web.Response:
    require(request, "read:groups")
    return json_response({"status": "ok", "total": 1, "group": group_body(await _group(request), public_base(request))})


async def group_users(request: web.Request) -> web.Response:
    require(request, "read:groups")
    doc = await _group(request)
    members = await request.app[USERS].by_ids(list(doc.get("users") or []))
    shown = [user_body(user, public_base(request)) for user in members]
    return json_response({"status": "ok", "users": shown, "total": len(shown)})


async def list_groups(request: web.Request) -> web.Response:
    require(request, "read:groups")
    groups = [group_body(doc, public_base(request)) for doc in await request.app[USERS].list_groups()]
    return one_page(request, "groups", groups)


async def update_group(request: web.Request) -> web.Response:
    require(request, "admin:groups")
    changes = changes_named(load_body(GROUP_BODY, await read_json(request)))
    await _group(request)
    return await changed(request, "group", request.app[USERS].update_group(request.match_info["id"], changes),
                         f"group {changes.get('name')} already exists", group_body)


async def _membership(request: web.Request, member: bool) -> web.Response:
    require(request, "admin:groups")
    group = await _group(request)
    users = request.app[USERS]
    if await users.by_id(request.match_info["user_id"]) is None:
        raise ApiError(400, "invalid user")
    if not await users.set_member(group["_id"], request.match_info["user_id"], member):
        raise ApiError(404, "not found")
    return json_response({"status": "ok"})


async def add_member(request: web.Request) -> web.Response:
    return await _membership(request, True)


async def remove_member(request: web.Request) -> web.Response:
    return await _membership(request, False)


async def delete_group(request: web.Request) -> web.Response:
    require(request, "admin:groups")
    return await deleted(request.app[USERS].delete_group(request.match_info["id"]))


GROUP_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/group", create_group),
    ("GET", "/groups", list_groups),
    ("GET", "/group/{id}", get_group),
    ("PUT", "/group/{id}", update_group),
    ("DELETE", "/group/{id}", delete_group),
    ("GET", "/group/{id}/users", group_users),
    ("PUT", "/group/{id}/user/{user_id}", add_member),
    ("DELETE", "/group/{id}/user/{user_id}", remove_member),
]
