"""Customer lookups (Alerta's ``/customer`` routes): ``{"customer", "match"}`` says that users whose login, e-mail
domain or group is ``match`` belong to ``customer`` (shared/customers.py ``customers_for``). Configuration, straight
to the store, like keys and blackouts. Writes need the admin scope, reads the read scope; a bound caller sees only
the lookups of its own customers."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from shared import limits as lim
from shared.fieldtypes import Line
from shared.http import ApiError, Handler, base_url, json_response, read_json
from shared.paging import check_page, listed, page_keys
from shared.schemas import _Body, load_body
from shared.store.customers import CustomerStore

from .commands import method_override
from .keys import SETTINGS, STORE
from .listing import exact_filters, number, own_customers, sort_keys
from .tenancy import check_visible
from .views import require

MAX_PAGE_SIZE = 1000
FILTERS = {"id": "_id", "match": "match", "customer": "customer"}  # parameter -> stored field (exact values)
SORTS = {"match": ("match", 1), "customer": ("customer", 1)}  # sort-by: parameter -> (stored field, direction)
CONTROLS = ("page", "page-size", "sort-by", "api-key", "_")
# Alerta's scopes: admin:customers for the writes, read:customers for the reads.
WRITE_SCOPE, READ_SCOPE = "admin:customers", "read:customers"


class CustomerBody(_Body):
    """``POST /customer``: both fields."""

    customer = Line(lim.GROUP_CHARS, 1, required=True)
    match = Line(lim.USER_CHARS, 1, required=True)


class CustomerChanges(_Body):
    """``PUT /customer/{id}``: what it names; ``null`` changes nothing (the ``alerta`` client sends both fields,
    ``null`` for the one not given)."""

    customer = Line(lim.GROUP_CHARS, 1, load_default=None, allow_none=True)
    match = Line(lim.USER_CHARS, 1, load_default=None, allow_none=True)


CUSTOMER_BODY = CustomerBody()
CUSTOMER_CHANGES = CustomerChanges()


def customer_body(doc: dict[str, Any], base: str) -> dict[str, Any]:
    return {"id": doc["_id"], "href": f"{base}/customer/{doc['_id']}", "match": doc.get("match"),
            "customer": doc.get("customer")}


def customer_store(request: web.Request) -> CustomerStore:
    return CustomerStore(request.app[STORE], request.app[SETTINGS].query.store_max_time_ms)


async def _visible_customer(request: web.Request) -> dict[str, Any]:
    doc = await customer_store(request).get_customer(request.match_info["id"])
    if doc is None:
        raise ApiError(404, "not found")
    check_visible(request, doc.get("customer"))
    return doc


async def create_customer(request: web.Request) -> web.Response:
    require(request, WRITE_SCOPE)
    body = load_body(CUSTOMER_BODY, await read_json(request))
    doc = {"_id": str(uuid.uuid4()), "match": body["match"], "customer": body["customer"]}
    await customer_store(request).insert_customer(doc)
    answer = customer_body(doc, base_url(request, api_prefix=True))
    return json_response({"status": "ok", "id": doc["_id"], "customer": answer}, status=201,
                         headers={"Location": answer["href"]})


async def get_customer(request: web.Request) -> web.Response:
    require(request, READ_SCOPE)
    doc = await _visible_customer(request)
    return json_response({"status": "ok", "total": 1, "customer": customer_body(doc, base_url(request, True))})


async def update_customer(request: web.Request) -> web.Response:
    require(request, WRITE_SCOPE)
    raw = await read_json(request)
    if not raw:
        raise ApiError(400, "nothing to change")
    changes = {name: value for name, value in load_body(CUSTOMER_CHANGES, raw).items() if value is not None}
    if not changes:
        raise ApiError(400, "nothing to change: give 'customer' or 'match'")
    await _visible_customer(request)
    doc = await customer_store(request).update_customer(request.match_info["id"], changes)
    if doc is None:
        raise ApiError(404, "not found")
    return json_response({"status": "ok", "customer": customer_body(doc, base_url(request, True))})


async def delete_customer(request: web.Request) -> web.Response:
    require(request, WRITE_SCOPE)
    await _visible_customer(request)
    if not await customer_store(request).delete_customer(request.match_info["id"]):
        raise ApiError(404, "not found")
    return json_response({"status": "ok"})


async def list_customers(request: web.Request) -> web.Response:
    """Exact values of ``id``, ``match``, ``customer``; the caller's own customers only when it is bound."""
    require(request, READ_SCOPE)
    query = own_customers(request, exact_filters(request, FILTERS, CONTROLS))
    sort = sort_keys(request, SORTS, [("customer", 1), ("match", 1), ("_id", 1)])
    page = number(request, "page", 1, 10**9)
    size = number(request, "page-size", request.app[SETTINGS].query.default_page_size, MAX_PAGE_SIZE)
    total, docs = await customer_store(request).list_customers(query, sort, (page - 1) * size, size)
    check_page(page, size, total)
    base = base_url(request, api_prefix=True)
    return json_response(listed("customers", [customer_body(doc, base) for doc in docs],
                                **page_keys(total, page, size)))


CUSTOMER_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/customer", create_customer),
    ("GET", "/customers", list_customers),
    ("GET", "/customer/{id}", get_customer),
    ("PUT", "/customer/{id}", update_customer),
    ("DELETE", "/customer/{id}", delete_customer),
    ("POST", "/customer/{id}", method_override(delete_customer)),  # v3 style: {"_method": "delete"}
]
