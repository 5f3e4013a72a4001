"""API keys (admin: ``admin:keys``), straight to the store (configuration, not alerts), and the gateway's account
routes assembled: users (services/gateway/users.py), logins, permissions and groups.

Keys are as Alerta 9.1 shows them (``type``, ``status``, ``customer``, ``expireTime`` ...), except that the key
itself is shown once, in the answer that creates it: only its SHA-256 hash is stored. An admin may import a key
of their choosing (``{"key": ...}``), stored hashed like any other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.account_schemas import KEY_UPDATE_BODY, NEW_KEY_BODY
from shared.auth import hash_key, key_document, new_key
from shared.customers import visible
from shared.http import ApiError, Handler, base_url, json_response, read_json
from shared.schemas import load_body
from shared.scopes import key_type, within
from shared.store.accounts import BOOTSTRAP_PREFIX, AlreadyExists

from .auth import PRINCIPAL
from .commands import method_override
from .groups import GROUP_ROUTES
from .keys import ACCOUNTS, KEYRING
from .listing import iso, now_iso, one_page
from .login import LOGIN_ROUTES
from .perms import PERM_ROUTES
from .tenancy import bound, customer_for_write
from .users import USER_ROUTES
from .views import require

TYPE_SCOPES = {"read-only": ["read"], "read-write": ["read", "write"]}  # Alerta's key types, as scopes


def key_body(doc: dict[str, Any], base: str, key: str | None = None) -> dict[str, Any]:
    """A key as listed: an id and a short prefix, never the key (only the creation answer shows it)."""
    scopes = doc.get("scopes") or []
    expires = doc.get("expireTime")
    return {
        "id": doc["_id"], "key": key if key is not None else f"{doc.get('prefix', '')}...",
        "prefix": doc.get("prefix"), "user": doc.get("user"), "scopes": scopes, "type": key_type(scopes),
        "status": "expired" if expires is not None and expires <= datetime.now(UTC) else "active",
        "text": doc.get("text", ""), "expireTime": iso(expires), "count": doc.get("count", 0),
        "lastUsedTime": iso(doc.get("lastUsedTime")), "customer": doc.get("customer"),
        "href": f"{base}/key/{doc['_id']}",
    }


def _base(request: web.Request) -> str:
    return base_url(request, api_prefix=True)


def _grantable(request: web.Request, scopes: list[str]) -> None:
    """Nobody hands out a scope they do not hold (403, as in Alerta)."""
    principal = request[PRINCIPAL]
    missing = within(scopes, principal.scopes)
    if missing is not None:
        raise ApiError(403, f"Requested scope '{missing}' not in existing scopes: {','.join(sorted(principal.scopes))}")


def _future(expires: datetime | None, now: datetime) -> None:
    if expires is not None and expires <= now:
        raise ApiError(400, "expireTime must be in the future")


async def list_keys(request: web.Request) -> web.Response:
    """Every key, or a user's (``/keys/{user}``, ``?user=``), or a customer's (``?customer=``); a caller bound to
    customers lists its customers' keys only."""
    require(request, "admin:keys")
    user = request.match_info.get("user") or request.query.get("user")
    customers = bound(request)
    docs = await request.app[ACCOUNTS].list_keys(user, request.query.get("customer"))
    keys = [key_body(doc, _base(request)) for doc in docs if visible(customers, doc.get("customer"))]
    return one_page(request, "keys", keys, time=now_iso())


async def _key(request: web.Request) -> dict[str, Any]:
    ident = request.match_info["key"]
    doc = await request.app[ACCOUNTS].find_key(ident, hash_key(ident))
    if doc is None or not visible(bound(request), doc.get("customer")):  # another customer's key is not there
        raise ApiError(404, "not found")
    return doc


async def get_key(request: web.Request) -> web.Response:
    require(request, "admin:keys")
    return json_response({"status": "ok", "total": 1, "key": key_body(await _key(request), _base(request))})


async def create_key(request: web.Request) -> web.Response:
    require(request, "admin:keys")
    body = load_body(NEW_KEY_BODY, await read_json(request))
    now = datetime.now(UTC)
    _future(body.get("expireTime"), now)
    scopes = body.get("scopes") or TYPE_SCOPES[body.get("type") or "read-write"]
    _grantable(request, scopes)
    user = body.get("user") or request[PRINCIPAL].user
    key = body.get("key") or new_key()
    customer = customer_for_write(request, body.get("customer"))  # binds the key's principal (CUSTOMER_VIEWS)
    doc = key_document(key, user, scopes, body.get("text") or f"API key for {user}", body.get("expireTime"), now,
                       customer)
    try:
        await request.app[ACCOUNTS].insert_key(doc)
    except AlreadyExists:
        raise ApiError(409, "that key already exists") from None
    request.app[KEYRING].forget(doc["hash"])  # it may have been looked up (and cached as unknown) before
    data = key_body(doc, _base(request), key)
    return json_response({"status": "ok", "key": key, "data": data}, status=201,
                         headers={"Location": data["href"]})


async def update_key(request: web.Request) -> web.Response:
    """``scopes``, ``text``, ``expireTime``, ``customer``; ``null`` keeps a field."""
    require(request, "admin:keys")
    payload = await read_json(request)
    body = load_body(KEY_UPDATE_BODY, payload)
    changes = {name: value for name, value in body.items() if value is not None}
    if not changes:
        raise ApiError(400, "nothing to change")
    _future(changes.get("expireTime"), datetime.now(UTC))
    _grantable(request, changes.get("scopes") or [])
    if "customer" in changes:  # a bound caller may not move a key to another customer
        changes["customer"] = customer_for_write(request, changes["customer"])
    doc = await _key(request)
    if doc.get("prefix") == BOOTSTRAP_PREFIX:
        raise ApiError(409, "the ADMIN_KEY's key is set by its configuration; it cannot be changed here")
    updated = await request.app[ACCOUNTS].update_key(doc["_id"], changes)
    if updated is None:
        raise ApiError(404, "not found")
    request.app[KEYRING].forget(doc["hash"])  # its new scopes apply at once here (within 10 s elsewhere)
    return json_response({"status": "ok", "key": key_body(updated, _base(request))})


async def delete_key(request: web.Request) -> web.Response:
    require(request, "admin:keys")
    ident = request.match_info["key"]
    if bound(request):  # a bound admin deletes its customers' keys only
        await _key(request)
    doc = await request.app[ACCOUNTS].delete_key(ident, hash_key(ident))
    if doc is None:
        raise ApiError(404, "not found")
    request.app[KEYRING].forget(doc["hash"])
    return json_response({"status": "ok"})


KEY_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/keys", list_keys),
    ("GET", "/keys/{user}", list_keys),
    ("POST", "/key", create_key),
    ("GET", "/key/{key:.+}", get_key),
    ("PUT", "/key/{key:.+}", update_key),
    ("DELETE", "/key/{key:.+}", delete_key),
    ("POST", "/key/{key:.+}", method_override(delete_key)),
]

ADMIN_ROUTES: list[tuple[str, str, Handler]] = KEY_ROUTES + LOGIN_ROUTES + USER_ROUTES + PERM_ROUTES + GROUP_ROUTES
