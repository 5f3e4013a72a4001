"""The paging of the gateway's own listings (users, keys, permissions, groups), as Alerta pages them: ``page`` and
``page-size`` in, ``total``, ``page``, ``pageSize``, ``pages`` and ``more`` out, 416 past the last page
(shared/paging.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.fieldtypes import isoformat
from shared.http import ApiError, json_response
from shared.paging import check_page, listed, page_keys

from .keys import SETTINGS

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
