"""Users with a login (Alerta 9.1's ``/user`` and ``/users``), beside the v3 e-mail white-list on the same routes.

Which one a request means is decided by its shape (README, *Users*): ``POST /user`` with ``user`` and none of
``name``, ``login``, ``email``, ``password`` is the v3 white-listing; ``DELETE /user/{id}`` deletes the user of that
id, else the white-listed address; ``GET /users`` lists the users, then the white-listed addresses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.account_schemas import ATTRIBUTES_BODY, NEW_USER_BODY, USER_UPDATE_BODY
from shared.http import ApiError, Handler, base_url, json_response, read_json
from shared.schemas import load_body
from shared.scopes import role_scopes, within
from shared.store.accounts import AlreadyExists
from shared.users import hash_password, user_body, user_document, whitelisted_body

from .auth import PRINCIPAL
from .commands import method_override
from .groups import group_body
from .keys import ACCOUNTS, SETTINGS, USERS
from .listing import filters, now_iso, page_answer, paging
from .views import require
from .whitelist import create_whitelisted

V3_ONLY = ("name", "login", "email", "password")
SELF_FIELDS = {"name", "email", "password", "text"}  # what a user may change of themselves (Alerta's list)
# GET /users filters (exact values; a repeated parameter is any of them): the client's ``users --role`` sends roles.
USER_FILTERS = {"id": "_id", "name": "name", "login": "login", "email": "email", "status": "status",
                "role": "roles", "roles": "roles"}


def is_v3(body: Any) -> bool:
    return isinstance(body, dict) and "user" in body and not any(name in body for name in V3_ONLY)


def _base(request: web.Request) -> str:
    return base_url(request, api_prefix=True)


async def _check_roles(request: web.Request, login: str, roles: list[str]) -> None:
    """A caller may give only roles whose scopes it holds itself (403, as in Alerta)."""
    users, settings, principal = request.app[USERS], request.app[SETTINGS], request[PRINCIPAL]
    wanted = role_scopes(login, roles, await users.perms_of(roles), settings.admin_users)
    missing = within(wanted, principal.scopes)
    if missing is not None:
        raise ApiError(403, f"Requested scope '{missing}' not in existing scopes: {','.join(sorted(principal.scopes))}")


async def create_user(request: web.Request) -> web.Response:
    payload = await read_json(request)
    if is_v3(payload):
        return await create_whitelisted(request, payload)
    require(request, "admin:users")
    users = request.app[USERS]
    body = load_body(NEW_USER_BODY, payload)
    login = body.get("login") or body["email"]
    roles = body.get("roles") or ["user"]
    await _check_roles(request, login, roles)
    if await users.by_username(login) or (body.get("email") and await users.by_email(body["email"])):
        raise ApiError(409, "user with that email already exists")
    digest = await hash_password(body["password"]) if body.get("password") else None
    doc = user_document(body, digest, roles, datetime.now(UTC))
    try:
        await users.insert(doc)
    except AlreadyExists:
        raise ApiError(409, "user with that email already exists") from None
    shown = user_body(doc, _base(request))
    return json_response({"status": "ok", "id": doc["_id"], "user": shown}, status=201,
                         headers={"Location": shown["href"]})


async def _user(request: web.Request, user_id: str) -> dict[str, Any]:
    doc = await request.app[USERS].by_id(user_id)
    if doc is None:
        raise ApiError(404, "not found")
    return doc


async def get_user(request: web.Request) -> web.Response:
    require(request, "admin:users")
    doc = await _user(request, request.match_info["id"])
    return json_response({"status": "ok", "total": 1, "user": user_body(doc, _base(request))})


async def _changes(request: web.Request, doc: dict[str, Any], body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What a ``PUT`` changes: ``null`` fields (and an empty role list) keep their value; attributes merge, a
    ``null`` attribute is deleted."""
    users = request.app[USERS]
    changes = {name: value for name, value in body.items()
               if value is not None and name not in ("attributes", "password", "roles")}
    if body.get("email") and body["email"] != doc.get("email"):
        other = await users.by_email(body["email"])
        if other is not None and other["_id"] != doc["_id"]:
            raise ApiError(409, "user with that email already exists")
        changes.setdefault("email_verified", False)
    if body.get("login") and body["login"] != doc["login"] and await users.by_username(body["login"]):
        raise ApiError(409, "user with that login already exists")
    if body.get("roles"):
        await _check_roles(request, doc["login"], body["roles"])
        changes["roles"] = body["roles"]
    if body.get("password"):
        changes["password"] = await hash_password(body["password"])
    unset = []
    for name, value in (body.get("attributes") or {}).items():
        if value is None:
            unset.append(f"attributes.{name}")
        else:
            changes[f"attributes.{name}"] = value
    changes["updateTime"] = datetime.now(UTC)
    return changes, unset


async def _update(request: web.Request, doc: dict[str, Any], body: dict[str, Any]) -> web.Response:
    changes, unset = await _changes(request, doc, body)
    try:
        updated = await request.app[USERS].update(doc["_id"], changes, tuple(unset))
    except AlreadyExists:
        raise ApiError(409, "user with that login already exists") from None
    if updated is None:
        raise ApiError(404, "not found")
    return json_response({"status": "ok", "user": user_body(updated, _base(request))})


def _nothing_to_change(payload: Any) -> None:
    if isinstance(payload, dict) and not payload:
        raise ApiError(400, "nothing to change")


async def update_user(request: web.Request) -> web.Response:
    require(request, "admin:users")
    payload = await read_json(request)
    _nothing_to_change(payload)
    body = load_body(USER_UPDATE_BODY, payload)
    return await _update(request, await _user(request, request.match_info["id"]), body)


async def delete_user(request: web.Request) -> web.Response:
    """The user of this id; else the v3 white-listed address (``DELETE /user/{email}``)."""
    require(request, "admin:users")
    if await request.app[USERS].delete(request.match_info["id"]):
        return json_response({"status": "ok"})
    if await request.app[ACCOUNTS].delete_user(request.match_info["id"]):
        return json_response({"status": "ok"})
    raise ApiError(404, "not found")


async def list_users(request: web.Request) -> web.Response:
    """Users (oldest first), then the v3 white-listed addresses; each user also carries v3's ``user`` (its
    e-mail, else its login), so a v3 client finds what it reads. Filtered, only users are listed."""
    require(request, "admin:users")
    users = request.app[USERS]
    base = _base(request)
    query = filters(request, USER_FILTERS)
    total_users = await users.count(query)
    whitelist = [] if query else await request.app[ACCOUNTS].list_users()
    page, size = paging(request, total_users + len(whitelist))
    start, end = (page - 1) * size, page * size
    shown = []
    if start < total_users:
        for doc in await users.page(start, min(end, total_users) - start, query):
            shown.append({**user_body(doc, base), "user": doc.get("email") or doc["login"], "sponsor": None})
    shown += [whitelisted_body(doc, base) for doc in whitelist[max(0, start - total_users):max(0, end - total_users)]]
    return page_answer(request, "users", shown, total_users + len(whitelist), page, size, domains=[],
                       time=now_iso())


async def user_attributes(request: web.Request) -> web.Response:
    require(request, "admin:users")
    body = load_body(ATTRIBUTES_BODY, await read_json(request))
    if not body["attributes"]:
        raise ApiError(400, "must supply 'attributes' as json data")
    await _update(request, await _user(request, request.match_info["id"]), {"attributes": body["attributes"]})
    return json_response({"status": "ok"})


async def user_groups(request: web.Request) -> web.Response:
    require(request, "admin:users")
    doc = await _user(request, request.match_info["id"])
    groups = [group_body(g, _base(request)) for g in await request.app[USERS].groups_of(doc["_id"])]
    return json_response({"status": "ok", **({} if groups else {"message": "not found"}), "groups": groups,
                          "total": len(groups)})


# -- the caller themselves ------------------------------------------------------------------------------------

async def _me(request: web.Request) -> dict[str, Any]:
    """The caller's user: by the token's user id, or (an API key) by the key's user as a login."""
    principal, users = request[PRINCIPAL], request.app[USERS]
    doc = await (users.by_id(principal.user_id) if principal.user_id else users.by_login(principal.user))
    if doc is None:
        raise ApiError(404, "not found")
    return doc


async def get_me(request: web.Request) -> web.Response:
    doc = await _me(request)
    return json_response({"status": "ok", "total": 1, "user": user_body(doc, _base(request))})


async def update_me(request: web.Request) -> web.Response:
    payload = await read_json(request)
    _nothing_to_change(payload)
    body = load_body(USER_UPDATE_BODY, payload)
    named = {name for name, value in body.items() if value not in (None, [], {})}
    if named - SELF_FIELDS:
        raise ApiError(400, f"not allowed to update: {', '.join(sorted(named - SELF_FIELDS))}")
    return await _update(request, await _me(request), {name: body[name] for name in named})


async def get_me_attributes(request: web.Request) -> web.Response:
    doc = await _me(request)
    return json_response({"status": "ok", "total": 1, "attributes": doc.get("attributes") or {}})


async def update_me_attributes(request: web.Request) -> web.Response:
    body = load_body(ATTRIBUTES_BODY, await read_json(request))
    if not body["attributes"]:
        raise ApiError(400, "must supply 'attributes' as json data")
    await _update(request, await _me(request), {"attributes": body["attributes"]})
    return json_response({"status": "ok"})


USER_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/user/me", get_me),
    ("PUT", "/user/me", update_me),
    ("GET", "/user/me/attributes", get_me_attributes),
    ("PUT", "/user/me/attributes", update_me_attributes),
    ("GET", "/users", list_users),
    ("POST", "/user", create_user),
    ("GET", "/user/{id}", get_user),
    ("PUT", "/user/{id}", update_user),
    ("DELETE", "/user/{id}", delete_user),
    ("POST", "/user/{id}", method_override(delete_user)),  # v3: {"_method": "delete"}
    ("PUT", "/user/{id}/attributes", user_attributes),
    ("GET", "/user/{id}/groups", user_groups),
]
