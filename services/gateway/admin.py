"""Users (v3 e-mail white-list) and API keys: admin only, straight to the store (configuration, not alerts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.auth import hash_key, key_document, new_key
from shared.customers import visible
from shared.fieldtypes import isoformat
from shared.http import ApiError, Handler, base_url, json_response, read_json
from shared.paging import check_page, listed, page_keys
from shared.schemas import KEY_BODY, USER_BODY, load_body
from shared.store.accounts import AlreadyExists

from .auth import PRINCIPAL
from .commands import method_override
from .keys import ACCOUNTS, KEYRING, SETTINGS
from .tenancy import bound, customer_for_write
from .views import require


def _iso(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def key_body(doc: dict[str, Any], base: str, key: str | None = None) -> dict[str, Any]:
    """A key as listed: an id and a short prefix, never the key (only the creation answer shows it)."""
    return {
        "id": doc["_id"], "key": key if key is not None else f"{doc.get('prefix', '')}...",
        "prefix": doc.get("prefix"), "user": doc.get("user"), "scopes": doc.get("scopes") or [],
        "text": doc.get("text", ""), "expireTime": _iso(doc.get("expireTime")), "count": doc.get("count", 0),
        "lastUsedTime": _iso(doc.get("lastUsedTime")), "customer": doc.get("customer"),
        "href": f"{base}/key/{doc['_id']}",
    }


def user_body(doc: dict[str, Any]) -> dict[str, Any]:
    return {"user": doc["user"], "sponsor": doc.get("sponsor"), "createTime": _iso(doc.get("createTime"))}


def number(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, f"{name} must be an integer between 1 and {maximum}, got {raw[:80]!r}")
    return int(raw)


def one_page(request: web.Request, name: str, items: list[Any], **extra: Any) -> web.Response:
    """A listing of users or keys as Alerta pages it (``page``, ``page-size``; 416 past the last page)."""
    page = number(request, "page", 1, 10**9)
    size = number(request, "page-size", request.app[SETTINGS].query.default_page_size, 1000)
    check_page(page, size, len(items))
    shown = items[(page - 1) * size:page * size]
    return json_response(listed(name, shown, **page_keys(len(items), page, size), **extra))


async def list_users(request: web.Request) -> web.Response:
    require(request, "admin")
    users = [user_body(doc) for doc in await request.app[ACCOUNTS].list_users()]
    return one_page(request, "users", users, domains=[], time=_iso(datetime.now(UTC)))


async def create_user(request: web.Request) -> web.Response:
    require(request, "admin")
    body = load_body(USER_BODY, await read_json(request))
    sponsor = body.get("sponsor") or request[PRINCIPAL].user
    try:
        doc = await request.app[ACCOUNTS].add_user(body["user"], sponsor, datetime.now(UTC))
    except AlreadyExists:
        raise ApiError(409, f"user {body['user']} already exists") from None
    location = f"{base_url(request, api_prefix=True)}/user/{doc['user']}"
    return json_response({"status": "ok", "user": user_body(doc)}, status=201, headers={"Location": location})


async def delete_user(request: web.Request) -> web.Response:
    require(request, "admin")
    if not await request.app[ACCOUNTS].delete_user(request.match_info["user"]):
        raise ApiError(404, "not found")
    return json_response({"status": "ok"})


async def list_keys(request: web.Request) -> web.Response:
    require(request, "admin")
    user = request.match_info.get("user")
    base = base_url(request, api_prefix=True)
    customers = bound(request)  # a bound caller lists its customers' keys only
    keys = [key_body(doc, base) for doc in await request.app[ACCOUNTS].list_keys(user)
            if visible(customers, doc.get("customer"))]
    return one_page(request, "keys", keys, time=_iso(datetime.now(UTC)))


async def create_key(request: web.Request) -> web.Response:
    require(request, "admin")
    body = load_body(KEY_BODY, await read_json(request))
    now = datetime.now(UTC)
    if body.get("expireTime") is not None and body["expireTime"] <= now:
        raise ApiError(400, "expireTime must be in the future")
    user = body.get("user") or request[PRINCIPAL].user
    key = new_key()
    doc = key_document(key, user, body.get("scopes") or ["read", "write"],
                       body.get("text") or f"API key for {user}", body.get("expireTime"), now)
    doc["customer"] = customer_for_write(request, body.get("customer"))  # binds the key's principal (CUSTOMER_VIEWS)
    await request.app[ACCOUNTS].insert_key(doc)
    data = key_body(doc, base_url(request, api_prefix=True), key)
    return json_response({"status": "ok", "key": key, "data": data}, status=201,
                         headers={"Location": data["href"]})


async def delete_key(request: web.Request) -> web.Response:
    require(request, "admin")
    ident = request.match_info["key"]
    customers = bound(request)
    if customers:  # a bound admin deletes its customers' keys only (the keys are few: configuration)
        keys = await request.app[ACCOUNTS].list_keys()
        if not any(key["_id"] == ident or key.get("hash") == hash_key(ident) for key in keys
                   if visible(customers, key.get("customer"))):
            raise ApiError(404, "not found")
    doc = await request.app[ACCOUNTS].delete_key(ident, hash_key(ident))
    if doc is None:
        raise ApiError(404, "not found")
    request.app[KEYRING].forget(doc["hash"])
    return json_response({"status": "ok"})


ADMIN_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/users", list_users),
    ("POST", "/user", create_user),
    ("DELETE", "/user/{user}", delete_user),
    ("POST", "/user/{user}", method_override(delete_user)),  # v3: {"_method": "delete"}
    ("GET", "/keys", list_keys),
    ("GET", "/keys/{user}", list_keys),
    ("POST", "/key", create_key),
    ("DELETE", "/key/{key:.+}", delete_key),
    ("POST", "/key/{key:.+}", method_override(delete_key)),
]
