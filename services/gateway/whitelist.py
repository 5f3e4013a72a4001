"""The v3 e-mail white-list (``POST /user {"user", "sponsor"}``, ``DELETE /user/{email}``), which shares its
routes with today's users (services/gateway/users.py decides by the body's shape which one a request means)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.account_schemas import WHITE_LIST_BODY
from shared.http import ApiError, base_url, json_response
from shared.schemas import load_body
from shared.store.accounts import AlreadyExists

from .auth import PRINCIPAL
from .keys import ACCOUNTS
from .listing import iso
from .views import require


def whitelist_body(doc: dict[str, Any]) -> dict[str, Any]:
    return {"user": doc["user"], "sponsor": doc.get("sponsor"), "createTime": iso(doc.get("createTime"))}


async def create_whitelisted(request: web.Request, payload: Any) -> web.Response:
    require(request, "admin:users")
    body = load_body(WHITE_LIST_BODY, payload)
    sponsor = body.get("sponsor") or request[PRINCIPAL].user
    try:
        doc = await request.app[ACCOUNTS].add_user(body["user"], sponsor, datetime.now(UTC))
    except AlreadyExists:
        raise ApiError(409, f"user {body['user']} already exists") from None
    location = f"{base_url(request, api_prefix=True)}/user/{doc['user']}"
    return json_response({"status": "ok", "user": whitelist_body(doc)}, status=201, headers={"Location": location})
