"""Read handlers of the query service: alerts (one, list, count, top 10, history, environments, services)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.fieldtypes import isoformat
from shared.http import ApiError, Handler, base_url, json_response
from shared.render import alert_body, history_record, listed_alert, top10_row, with_href

from .filters import Query, parse_alert_query
from .keys import QUERIES, SETTINGS, STORE
from .reads import AlertQueries


def alert_query(request: web.Request) -> Query:
    return parse_alert_query(list(request.query.items()), request.app[SETTINGS].query.default_page_size)


def repository(request: web.Request) -> AlertQueries:
    return request.app[QUERIES]


def paged(total: int, query: Query) -> dict[str, Any]:
    """Today's Alerta paging: ``total`` counts every match, ``pages`` is 0 when nothing matches."""
    pages = (total + query.page_size - 1) // query.page_size
    return {
        "total": total,
        "page": query.page,
        "pageSize": query.page_size,
        "pages": pages,
        "more": total > query.page * query.page_size,
    }


def now_iso() -> str:
    return isoformat(datetime.now(UTC))


async def get_alert(request: web.Request) -> web.Response:
    limit = request.app[SETTINGS].query.store_max_time_ms
    doc = await request.app[STORE].get_alert(request.match_info["id"], max_time_ms=limit)
    if doc is None:
        raise ApiError(404, "not found")
    body = with_href(alert_body(doc), base_url(request), "alert")
    return json_response({"status": "ok", "total": 1, "alert": body})


async def get_alerts(request: web.Request) -> web.Response:
    """``GET /alerts``: one page, plus counts over every match; expired alerts hidden unless asked for."""
    query = alert_query(request)
    docs, counts = await repository(request).page_and_counts(
        query.visible(), query.sort, query.skip, query.page_size,
        history=query.show_history, raw_data=query.show_raw_data,
    )
    base = base_url(request)
    times = [doc["lastReceiveTime"] for doc in docs if isinstance(doc.get("lastReceiveTime"), datetime)]
    return json_response({
        "status": "ok",
        **paged(counts.total, query),
        "alerts": [listed_alert(doc, base, history=query.show_history, raw_data=query.show_raw_data)
                   for doc in docs],
        "severityCounts": counts.severity,
        "statusCounts": counts.status,
        # Clients poll with from-date=<lastTime>: the newest alert they have seen.
        "lastTime": isoformat(max(times)) if times else now_iso(),
        "autoRefresh": True,
    })


async def get_count(request: web.Request) -> web.Response:
    counts = await repository(request).counts(alert_query(request).filter)
    return json_response({
        "status": "ok", "total": counts.total, "severityCounts": counts.severity, "statusCounts": counts.status,
    })


async def top10(request: web.Request, flapping: bool) -> web.Response:
    query = alert_query(request)
    rows = await repository(request).top10(query.filter, query.group_by, flapping=flapping)
    base = base_url(request)
    return json_response({"status": "ok", "total": len(rows), "top10": [top10_row(row, base) for row in rows]})


async def get_top10(request: web.Request) -> web.Response:
    return await top10(request, flapping=False)


async def get_top10_flapping(request: web.Request) -> web.Response:
    return await top10(request, flapping=True)


async def get_history(request: web.Request) -> web.Response:
    """One record per history entry, newest first; the filters select alerts (their current values)."""
    query = alert_query(request)
    docs = await repository(request).history(query.filter, query.skip, query.page_size)
    base = base_url(request)
    records = [history_record(doc, base) for doc in docs]
    return json_response({
        "status": "ok",
        "total": len(records),
        "page": query.page,
        "pageSize": query.page_size,
        "history": records,
        "lastTime": records[0]["updateTime"] if records else now_iso(),
    })


async def get_environments(request: web.Request) -> web.Response:
    rows = await repository(request).environments(alert_query(request).filter)
    return json_response({"status": "ok", "total": len(rows), "environments": rows})


async def get_services(request: web.Request) -> web.Response:
    rows = await repository(request).services(alert_query(request).filter)
    return json_response({"status": "ok", "total": len(rows), "services": rows})


async def get_groups(request: web.Request) -> web.Response:
    rows = await repository(request).groups(alert_query(request).filter)
    return json_response({"status": "ok", "total": len(rows), "groups": rows})


async def get_tags(request: web.Request) -> web.Response:
    rows = await repository(request).tags(alert_query(request).filter)
    return json_response({"status": "ok", "total": len(rows), "tags": rows})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/alert/{id}", get_alert),
    ("GET", "/alerts", get_alerts),
    ("GET", "/alerts/count", get_count),
    ("GET", "/alerts/top10", get_top10),
    ("GET", "/alerts/top10/count", get_top10),
    ("GET", "/alerts/top10/flapping", get_top10_flapping),
    ("GET", "/alerts/history", get_history),
    ("GET", "/environments", get_environments),
    ("GET", "/services", get_services),
    ("GET", "/alerts/groups", get_groups),
    ("GET", "/alerts/tags", get_tags),
]
