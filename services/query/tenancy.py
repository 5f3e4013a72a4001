"""Whom a read is for: the customers the gateway says its caller is bound to (``X-Alertbus-Customers``, which only a
caller holding SERVICE_SECRET reaches this service with: shared/http.py ``gateway_only``). A bound read sees only
those customers' alerts and heartbeats: lists and aggregates get the filter, a single document of another
customer is a 404."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shared.customers import CUSTOMERS_HEADER, customer_filter, decode_bound, visible
from shared.http import GATEWAY_CALL, ApiError

from .filters import combine


def bound(request: web.Request) -> frozenset[str]:
    if not request.get(GATEWAY_CALL):
        return frozenset()
    try:
        return decode_bound(request.headers.get(CUSTOMERS_HEADER))
    except ValueError as exc:  # the gateway never sends this: say so rather than read unfiltered
        raise ApiError(400, f"{CUSTOMERS_HEADER}: {exc}") from None


def restricted(request: web.Request, flt: dict[str, Any]) -> dict[str, Any]:
    """``flt`` kept to the caller's customers. Only a ``customer`` condition of ``flt`` itself is moved under
    ``$and``: the other fields stay top-level, where the reads look for them (``services`` splits off ``service``)."""
    own = customer_filter(bound(request))
    if "customer" not in flt:
        return combine(flt, own)
    rest = {key: value for key, value in flt.items() if key != "customer"}
    both = [{"customer": flt["customer"]}, own]
    return {**rest, "$and": [*rest.get("$and", []), *both]}


def check_visible(request: web.Request, doc: dict[str, Any]) -> None:
    if not visible(bound(request), doc.get("customer")):
        raise ApiError(404, "not found")
