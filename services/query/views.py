"""Read handlers of the query service: alerts (one, list, count, top 10, history, environments, services)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shared.fieldtypes import isoformat
from shared.http import ApiError, Handler, base_url, json_response
from shared.paging import check_page, listed, page_keys
from shared.render import alert_body, history_record, listed_alert, top10_row, with_href

from .filters import Query, parse_alert_query
from .keys import QUERIES, SETTINGS, STORE
from .reads import AlertQueries
from .tenancy import bound, restricted


def alert_query(request: web.Request) -> Query:
    """The request's query, kept to the caller's customers (every list and aggregate reads through this)."""
    query = parse_alert_query(list(request.query.items()), request.app[SETTINGS].query.default_page_size)
    return replace(query, filter=restricted(request, query.filter))


def repository(request: web.Request) -> AlertQueries:
    return request.app[QUERIES]


def paged(total: int, query: Query) -> dict[str, Any]:
    """Today's Alerta paging (``total`` counts every match, ``pages`` is 0 when nothing matches); a page past the
    last is a 416."""
    check_page(query.page, query.page_size, total)
    return page_keys(total, query.page, query.page_size)


def now_iso() -> str:
    return isoformat(datetime.now(UTC))


async def get_alert(request: web.Request) -> web.Response:
    limit = request.app[SETTINGS].query.store_max_time_ms
    doc = await request.app[STORE].get_alert(request.match_info["id"], max_time_ms=limit, customers=bound(request))
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
    alerts = [listed_alert(doc, base, history=query.show_history, raw_data=query.show_raw_data) for doc in docs]
    return json_response({
        **listed("alerts", alerts, **paged(counts.total, query)),
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
        "autoRefresh": True,
    })


V3_TOP = 10  # v3's /alerts/top10 lists ten groups unless a page size is given


async def top10(request: web.Request, kind: str) -> web.Response:
    """Alerta's top n: ``page-size`` groups (v3's ``/alerts/top10``: 10), on one page (any other page is 416)."""
    query = alert_query(request)
    check_page(query.page, query.page_size, 1)
    v3 = request.path.rstrip("/").endswith("/top10") and not {"page-size", "limit"} & request.query.keys()
    limit = V3_TOP if v3 else query.page_size
    rows = await repository(request).top10(query.filter, query.group_by, kind=kind, limit=limit)
    base = base_url(request)
    shown = [top10_row(row, base) for row in rows]
    return json_response(listed("top10", shown, total=len(shown)))


async def get_top10(request: web.Request) -> web.Response:
    return await top10(request, "count")


async def get_top10_flapping(request: web.Request) -> web.Response:
    return await top10(request, "flapping")


async def get_top10_standing(request: web.Request) -> web.Response:
    return await top10(request, "standing")


async def get_history(request: web.Request) -> web.Response:
    """One record per history entry, newest first; the filters select alerts (their current values)."""
    query = alert_query(request)
    docs = await repository(request).history(query.filter, query.skip, query.page_size)
    base = base_url(request)
    records = [history_record(doc, base) for doc in docs]
    return json_response(listed(
        "history", records, total=len(records), page=query.page, pageSize=query.page_size,
        lastTime=records[0]["updateTime"] if records else now_iso(),
    ))


async def get_environments(request: web.Request) -> web.Response:
    """Alerta pages the environments (a page past the last is 416); the other aggregates are one list."""
    query = alert_query(request)
    rows = await repository(request).environments(query.filter)
    paging = paged(len(rows), query)
    page = rows[query.skip:query.skip + query.page_size]
    return json_response(listed("environments", page, **paging))


async def get_services(request: web.Request) -> web.Response:
    rows = await repository(request).services(alert_query(request).filter)
    return json_response(listed("services", rows, total=len(rows)))


async def get_groups(request: web.Request) -> web.Response:
    rows = await repository(request).groups(alert_query(request).filter)
    return json_response(listed("groups", rows, total=len(rows)))


async def get_tags(request: web.Request) -> web.Response:
    rows = await repository(request).tags(alert_query(request).filter)
    return json_response(listed("tags", rows, total=len(rows)))


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/alert/{id}", get_alert),
    ("GET", "/alerts", get_alerts),
    ("GET", "/alerts/count", get_count),
    ("GET", "/alerts/top10", get_top10),
    ("GET", "/alerts/top10/count", get_top10),
    ("GET", "/alerts/top10/flapping", get_top10_flapping),
    ("GET", "/alerts/topn/count", get_top10),
    ("GET", "/alerts/topn/flapping", get_top10_flapping),
    ("GET", "/alerts/topn/standing", get_top10_standing),
    ("GET", "/alerts/history", get_history),
    ("GET", "/environments", get_environments),
    ("GET", "/services", get_services),
    ("GET", "/alerts/groups", get_groups),
    ("GET", "/alerts/tags", get_tags),
]
