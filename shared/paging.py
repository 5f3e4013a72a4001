"""Alerta 9.1's paging answers, shared by the query service (alerts, environments, heartbeats, top 10) and the
gateway (users, keys). Pure: numbers in, the answer's paging keys (or a 416) out."""

from __future__ import annotations

from typing import Any

from .responses import ApiError

NOT_FOUND = {"message": "not found"}  # what Alerta adds to an empty list (still a 200)


def page_count(total: int, page_size: int) -> int:
    """Pages of ``total`` matches; 0 when nothing matches."""
    return (total + page_size - 1) // page_size


def check_page(page: int, page_size: int, total: int) -> None:
    """A page past the last one is Alerta's 416 ``page out of range: 1-N``; any page of an empty result is
    allowed (it answers the empty list)."""
    pages = page_count(total, page_size)
    if total and page > pages:
        raise ApiError(416, f"page out of range: 1-{pages}")


def page_keys(total: int, page: int, page_size: int) -> dict[str, Any]:
    """``total`` (every match), ``page``, ``pageSize``, ``pages`` and ``more``, after ``check_page``."""
    pages = page_count(total, page_size)
    return {"total": total, "page": page, "pageSize": page_size, "pages": pages, "more": page < pages}


def listed(name: str, items: list[Any], **extra: Any) -> dict[str, Any]:
    """``{"status": "ok", <name>: items, **extra}``, with Alerta's ``"message": "not found"`` when empty."""
    return {"status": "ok", **(NOT_FOUND if not items else {}), name: items, **extra}
