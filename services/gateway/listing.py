"""The paging of the gateway's own listings (users, keys, permissions, groups), as Alerta pages them: ``page`` and
``page-size`` in, ``total``, ``page``, ``pageSize``, ``pages`` and ``more`` out, 416 past the last page
(shared/paging.py); and the filters and order of those paged in the store (blackouts, customer lookups)."""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.customers import customer_filter
from shared.fieldtypes import isoformat
from shared.http import ApiError, json_response
from shared.paging import check_page, listed, page_keys

from .keys import SETTINGS
from .tenancy import bound

MAX_PAGE_SIZE = 1000


def iso(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None


def now_iso() -> str:
    return isoformat(datetime.now(UTC))


FILTER_CHARS = 256


def filters(request: web.Request, fields: dict[str, str]) -> dict[str, Any]:
    """Exact-value filters from the query string: ``fields`` maps a parameter to the stored field it matches;
    a repeated parameter is any of its values. A value must be one line of at most 256 characters (400)."""
    query: dict[str, Any] = {}
    for param, field in fields.items():
        values = request.query.getall(param, [])
        for value in values:
            if len(value) > FILTER_CHARS or not value.isprintable():
                raise ApiError(400, f"{param}: a filter value must be one line of at most {FILTER_CHARS} characters")
        if values:
            wanted = query.setdefault(field, {"$in": []})
            wanted["$in"] += values
    return query


def number(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= maximum:
        raise ApiError(400, f"{name} must be an integer between 1 and {maximum}, got {raw[:80]!r}")
    return int(raw)


def paging(request: web.Request, total: int) -> tuple[int, int]:
    """The page and page size asked for, checked against ``total`` (416 past the last page)."""
    page = number(request, "page", 1, 10**9)
    size = number(request, "page-size", request.app[SETTINGS].query.default_page_size, MAX_PAGE_SIZE)
    check_page(page, size, total)
    return page, size


def one_page(request: web.Request, name: str, items: list[Any], **extra: Any) -> web.Response:
    """A listing of ``items`` (all of them, in order): the page asked for."""
    page, size = paging(request, len(items))
    shown = items[(page - 1) * size:page * size]
    return json_response(listed(name, shown, **page_keys(len(items), page, size), **extra))


def page_answer(request: web.Request, name: str, shown: list[Any], total: int, page: int, size: int,
                **extra: Any) -> web.Response:
    """A page that the handler fetched itself (``shown``, of ``total``)."""
    return json_response(listed(name, shown, **page_keys(total, page, size), **extra))


def exact_filters(request: web.Request, fields: Mapping[str, str], controls: Container[str],
                  check: Callable[[str, list[str]], None] | None = None) -> dict[str, Any]:
    """The store filter of a listing's query string: each parameter ``fields`` maps to a stored field takes exact
    values (repeated: any of them; ``name!`` excludes them); ``check`` sees each one's values first. ``controls``
    (paging, order) are not filters; any other parameter is a 400, as in Alerta."""
    query: dict[str, Any] = {}
    for name in request.query:
        if name in controls:
            continue
        field = fields.get(name.removesuffix("!"))
        if field is None:
            raise ApiError(400, f"Invalid filter parameter: {name[:64]}")
        values = request.query.getall(name)
        if check is not None:
            check(name, values)
        query[field] = {"$nin" if name.endswith("!") else "$in": values}
    return query


def own_customers(request: web.Request, query: dict[str, Any]) -> dict[str, Any]:
    """``query`` kept to the caller's own customers when it is bound (as it is when not)."""
    own = customer_filter(bound(request))
    return {"$and": [query, own]} if query and own else query or own


def sort_keys(request: web.Request, sorts: Mapping[str, tuple[str, int]],
              tail: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The order ``sort-by`` asks for: ``sorts`` maps a name to its stored field and default direction (``-name``
    flips it); ``tail`` follows, so that the order is total. An unknown name is a 400, as in Alerta."""
    sort = []
    for raw in request.query.getall("sort-by", []):
        name = raw.removeprefix("-")
        if name not in sorts:
            raise ApiError(400, f"Sorting by '{name[:64]}' field not supported.")
        field, direction = sorts[name]
        sort.append((field, -direction if raw.startswith("-") else direction))
    return [*sort, *tail]
