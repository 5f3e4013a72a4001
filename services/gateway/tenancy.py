"""Which customers a request is bound to, and what that allows: the gateway's one door to ``shared.customers``.

A principal's customers apply only while CUSTOMER_VIEWS is on (as the setting's name says: off, every key sees
every customer, as before). The scope checks name Alerta's fine-grained scopes they stand for, so that switching to
them is one line each once ``Principal.allows`` knows them.
"""

from __future__ import annotations

from aiohttp import web

from shared.customers import CustomerRefused, assign_customer, visible
from shared.http import ApiError

from .auth import PRINCIPAL
from .keys import SETTINGS


def bound(request: web.Request) -> frozenset[str]:
    """The customers the caller is bound to; empty: all (unbound, or CUSTOMER_VIEWS off)."""
    if not request.app[SETTINGS].customer_views:
        return frozenset()
    return request[PRINCIPAL].customers


def may_choose_customer(request: web.Request) -> bool:
    """May the caller give a write any customer? An admin (Alerta: ``admin`` or ``admin:alerts`` /
    ``admin:heartbeats`` / ``admin:blackouts`` / ``admin:keys`` for the write in question)."""
    return request[PRINCIPAL].allows("admin")


def customer_for_write(request: web.Request, wanted: str | None) -> str | None:
    """The customer a new document gets (``assign_customer``); a customer the caller may not use is Alerta's 400."""
    try:
        return assign_customer(wanted, bound(request), may_choose=may_choose_customer(request))
    except CustomerRefused as exc:
        raise ApiError(400, str(exc)) from None


def check_visible(request: web.Request, customer: object, missing: str = "not found") -> None:
    """A document of another customer than the caller's is not there for it: 404, as Alerta's lookups answer."""
    if not visible(bound(request), customer):
        raise ApiError(404, missing)
