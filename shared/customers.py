"""Customers (multi-tenancy, Alerta's ``CUSTOMER_VIEWS``): which customers a principal is bound to, which customer
a write gets, what a bound principal may see. Pure functions, used by the gateway (writes, admin routes), the query
service (reads) and the ingest workers (commands); the login path (tokens) calls ``customers_for``.

A principal's customers are a set: empty means *all customers* (an admin, an unbound key, or CUSTOMER_VIEWS off).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

# The gateway tells the query service whom a read is for. Trusted only from a caller that presented the
# installation's SERVICE_SECRET (an internal service answers nobody else: shared/http.py ``gateway_only``), and
# always set by the gateway itself, never copied from a client's request.
CUSTOMERS_HEADER = "X-Alertbus-Customers"
ALL = "*"  # a customer lookup whose ``customer`` is "*" gives access to every customer (as in Alerta)
MAX_BOUND = 1000  # customers one principal may be bound to (a header of the internal read path carries them)


class NoCustomerMatch(Exception):
    """CUSTOMER_VIEWS is on and no customer lookup matches a user: Alerta refuses the login (403)."""


class CustomerRefused(Exception):
    """A write names a customer its principal may not use (Alerta: 400 and this message)."""


def customers_for(login: str, groups: Iterable[str], customer_docs: Iterable[Mapping[str, Any]], *,
                  admin: bool = False) -> frozenset[str]:
    """The customers a user is bound to, by Alerta's rule: every customer lookup whose ``match`` is the login
    (e-mail), the login's domain, or one of the user's groups. Empty (all customers) for an admin or when a
    matching lookup names ``*``; raises ``NoCustomerMatch`` when nothing matches (the caller answers 403)."""
    if admin:
        return frozenset()
    groups = list(groups)
    domain = login.rpartition("@")[2] if "@" in login else ""
    matches = {login, *groups, *([domain] if domain else [])}
    found = {doc["customer"] for doc in customer_docs
             if doc.get("match") in matches and isinstance(doc.get("customer"), str)}
    if ALL in found:
        return frozenset()
    if not found:
        raise NoCustomerMatch(f"No customer lookup configured for user '{login}' or '{','.join(groups)}'")
    return frozenset(found)


def assign_customer(wanted: str | None, bound: frozenset[str], *, may_choose: bool) -> str | None:
    """The customer a new alert, heartbeat, blackout or key gets (Alerta's ``assign_customer``): the one asked for
    if the principal may choose any (admin) or is bound to it; else the principal's only customer; else none."""
    if wanted:
        if may_choose or wanted in bound:
            return wanted
        raise CustomerRefused(f"not allowed to set customer to '{wanted}'")
    if len(bound) > 1:
        raise CustomerRefused("must define customer as more than one possibility")
    return next(iter(bound)) if bound else None


def visible(bound: frozenset[str], customer: Any) -> bool:
    """May a principal bound to ``bound`` see (and act on) a document of ``customer``?"""
    return not bound or customer in bound


def customer_filter(bound: frozenset[str]) -> dict[str, Any]:
    """The store filter that keeps a bound principal to its customers ({} when unbound). ``$in``: an equality list
    the planners use with the other fields of a filter."""
    return {"customer": {"$in": sorted(bound)}} if bound else {}


def encode_bound(bound: frozenset[str]) -> str:
    """The header value carrying a principal's customers to the query service (ASCII JSON: any string survives)."""
    return json.dumps(sorted(bound))


def decode_bound(value: str | None) -> frozenset[str]:
    """The customers the gateway passed (``encode_bound``); raises ``ValueError`` for anything else."""
    if not value:
        return frozenset()
    try:
        decoded = json.loads(value)
    except RecursionError:
        raise ValueError("the customers header is nested too deeply") from None
    if not isinstance(decoded, list) or len(decoded) > MAX_BOUND or not all(isinstance(c, str) for c in decoded):
        raise ValueError("the customers header must be a JSON list of strings")
    return frozenset(decoded)
