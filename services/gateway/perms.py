"""Permissions (Alerta 9.1's ``/perm``, ``/perms``, ``/scopes``): a role (or a group's name) and the scopes it
gives. The system roles ``admin``, ``user`` and ``guest`` are listed first and cannot be stored. Scopes are decided
when a user logs in (a token carries them), as in Alerta: a change applies from the next login."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from shared.account_schemas import PERM_BODY
from shared.http import ApiError, Handler, json_response, read_json
from shared.schemas import load_body
from shared.scopes import SCOPES, SYSTEM_ROLES, within

from .auth import PRINCIPAL
from .keys import USERS
from .listing import filters, one_page
from .records import changed, changes_named, created, deleted, public_base
from .views import require


def perm_body(doc: dict[str, Any], base: str) -> dict[str, Any]:
    return {"id": doc["_id"], "href": f"{base}/perm/{doc['_id']}", "match": doc["match"],
            "scopes": list(doc.get("scopes") or [])}


def _check(request: web.Request, match: str | None, scopes: list[str] | None) -> None:
    if match in SYSTEM_ROLES:
        raise ApiError(409, f"{match} role already exists")
    principal = request[PRINCIPAL]
    missing = within(scopes or [], principal.scopes)
    if missing is not None:  # nobody gives a role more than they hold
        raise ApiError(403, f"Requested scope '{missing}' not in existing scopes: {','.join(sorted(principal.scopes))}")


async def create_perm(request: web.Request) -> web.Response:
    require(request, "admin:perms")
    body = load_body(PERM_BODY, await read_json(request))
    if not body.get("match"):
        raise ApiError(400, "match: a role to match is required")
    _check(request, body["match"], body.get("scopes"))
    doc = {"_id": str(uuid.uuid4()), "match": body["match"], "scopes": body.get("scopes") or []}
    return await created(request, "permission", doc, request.app[USERS].add_perm(doc),
                         f"{body['match']} role already exists", perm_body)


async def get_perm(request: web.Request) -> web.Response:
    require(request, "read:perms")
    doc = await request.app[USERS].perm(request.match_info["id"])
    if doc is None:
        raise ApiError(404, "not found")
    return json_response({"status": "ok", "total": 1, "permission": perm_body(doc, public_base(request))})


async def list_perms(request: web.Request) -> web.Response:
    require(request, "read:perms")
    base = public_base(request)
    system = [{"_id": role, "match": role, "scopes": list(scopes)} for role, scopes in SYSTEM_ROLES.items()]
    listed = system + await request.app[USERS].list_perms()
    query = filters(request, {"scope": "scopes", "scopes": "scopes", "match": "match"})
    for field, wanted in query.items():  # few permissions: filtered here, system roles alike
        want = set(wanted["$in"])
        listed = [doc for doc in listed if want & set(doc[field] if isinstance(doc[field], list) else [doc[field]])]
    return one_page(request, "permissions", [perm_body(doc, base) for doc in listed])


async def update_perm(request: web.Request) -> web.Response:
    require(request, "admin:perms")
    changes = changes_named(load_body(PERM_BODY, await read_json(request)))
    _check(request, changes.get("match"), changes.get("scopes"))
    return await changed(request, "permission", request.app[USERS].update_perm(request.match_info["id"], changes),
                         f"{changes.get('match')} role already exists", perm_body)


async def delete_perm(request: web.Request) -> web.Response:
    require(request, "admin:perms")
    return await deleted(request.app[USERS].delete_perm(request.match_info["id"]))


async def list_scopes(request: web.Request) -> web.Response:
    require(request, "read:perms")
    return json_response({"status": "ok", "scopes": list(SCOPES), "total": len(SCOPES)})


PERM_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/perm", create_perm),
    ("GET", "/perms", list_perms),
    ("GET", "/perm/{id}", get_perm),
    ("PUT", "/perm/{id}", update_perm),
    ("DELETE", "/perm/{id}", delete_perm),
    ("GET", "/scopes", list_scopes),
]
