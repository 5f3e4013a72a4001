"""Blackouts (maintenance windows): ``POST /blackout``, ``GET /blackouts``, ``GET|PUT|DELETE /blackout/{id}``.

Configuration, like keys: written straight to the store, then announced on the broker so that every ingest
worker's copy changes at once (shared/blackout_events.py, services/ingest/blackouts.py). A change the broker did
not take is still made (it is in the store): the workers' periodic reload applies it, a refresh interval later.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from shared import blackout_events as events
from shared.blackout_schema import BLACKOUT_BODY, BlackoutBody
from shared.blackouts import ACTIVE, EXPIRED, PENDING, STATUSES, priority, remaining, status
from shared.broker import BrokerUnavailable
from shared.fieldtypes import isoformat
from shared.http import ApiError, Handler, base_url, json_response, read_json
from shared.paging import check_page, listed, page_count, page_keys
from shared.schemas import BadInput, load_body
from shared.store import now_ms
from shared.store.blackouts import MAX_CURRENT, BlackoutStore

from .auth import PRINCIPAL
from .keys import RPC, SETTINGS, STORE
from .listing import exact_filters, own_customers, sort_keys
from .tenancy import check_visible, customer_for_write
from .views import require

log = logging.getLogger("alertbus.gateway.blackouts")
BLACKOUT_CHANGES = BlackoutBody(partial=True)
OPTIONAL = ("resource", "event", "group", "origin", "text")  # null or absent: not named
MAX_PAGE_SIZE = 1000
# Filters of GET /blackouts: parameter -> stored field; values of one parameter are alternatives; "name!" excludes.
FILTERS = {"id": "_id", "environment": "environment", "service": "service", "resource": "resource",
           "event": "event", "group": "group", "tag": "tags", "origin": "origin", "customer": "customer",
           "user": "user", "text": "text"}
# sort-by: parameter -> (stored field, default direction); dates newest first, as Alerta.
SORTS = {"priority": ("priority", 1), "environment": ("environment", 1), "service": ("service", 1),
         "resource": ("resource", 1), "event": ("event", 1), "group": ("group", 1), "tags": ("tags", 1),
         "customer": ("customer", 1), "startTime": ("startTime", -1), "endTime": ("endTime", -1),
         "duration": ("duration", 1), "user": ("user", 1), "createTime": ("createTime", -1), "text": ("text", 1)}
TIEBREAK = [("createTime", 1), ("_id", 1)]  # after what sort-by asks for: the order is total
CONTROLS = ("page", "page-size", "sort-by", "status", "api-key", "_")


def blackout_body(doc: dict[str, Any], base: str, now: datetime) -> dict[str, Any]:
    start, end = doc["startTime"], doc["endTime"]
    return {
        "id": doc["_id"], "href": f"{base}/blackout/{doc['_id']}", "priority": priority(doc),
        "environment": doc["environment"], "service": doc.get("service") or [], "resource": doc.get("resource"),
        "event": doc.get("event"), "group": doc.get("group"), "tags": doc.get("tags") or [],
        "origin": doc.get("origin"), "customer": doc.get("customer"), "startTime": isoformat(start),
        "endTime": isoformat(end), "duration": int((end - start).total_seconds()),
        "status": status(start, end, now), "remaining": remaining(start, end, now), "user": doc.get("user"),
        "createTime": isoformat(doc["createTime"]), "text": doc.get("text"),
    }


def _repository(request: web.Request) -> BlackoutStore:
    return BlackoutStore(request.app[STORE], request.app[SETTINGS].query.store_max_time_ms)


def _ms(value: datetime) -> datetime:
    """As the store keeps it (milliseconds), so that a worker's copy and the store agree to the instant."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _end(start: datetime, end: datetime | None, duration: int | None) -> datetime:
    try:
        return _ms(end) if end is not None else start + timedelta(seconds=duration or 0)
    except OverflowError:
        raise BadInput("endTime: is out of range: startTime plus duration falls after year 9999",
                       {"endTime": ["out of range"]}) from None


def _timed(doc: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    if end <= start:
        raise BadInput("endTime: must be after startTime (the time of the request when not given)",
                       {"endTime": ["must be after startTime"]})
    doc.update(startTime=start, endTime=end, duration=int((end - start).total_seconds()))
    doc["priority"] = priority(doc)
    return doc


async def _announce(request: web.Request, event: str, ident: str, doc: dict[str, Any] | None) -> None:
    try:
        await events.announce(request.app[RPC], event, ident, doc, user=request[PRINCIPAL].user)
    except BrokerUnavailable as exc:  # made all the same: the workers' periodic reload applies it
        log.warning("blackout %s %s but not announced (%s); the ingest workers apply it at their next reload",
                    ident, event, exc)


async def create_blackout(request: web.Request) -> web.Response:
    require(request, "write:blackouts")
    body = load_body(BLACKOUT_BODY, await read_json(request))
    if body.get("environment") is None:
        raise BadInput("environment: Field may not be null.", {"environment": ["Field may not be null."]})
    principal, now, repository = request[PRINCIPAL], now_ms(), _repository(request)
    start = _ms(body.get("startTime") or now)
    end = _end(start, body.get("endTime"), body.get("duration") or request.app[SETTINGS].rules.blackout_duration)
    if end > now and await repository.count_current(now) >= MAX_CURRENT:
        raise ApiError(409, f"there are {MAX_CURRENT} current and future blackouts already; delete some first")
    doc: dict[str, Any] = {
        "_id": str(uuid.uuid4()), "environment": body["environment"], "service": body.get("service") or [],
        **{name: body.get(name) for name in OPTIONAL}, "tags": body.get("tags") or [],
        "customer": customer_for_write(request, body.get("customer")),
        "user": body.get("user") if body.get("user") and principal.allows("admin:blackouts") else principal.user,
        "createTime": now,
    }
    await repository.insert_blackout(_timed(doc, start, end))
    await _announce(request, events.CREATED, doc["_id"], doc)
    answer = blackout_body(doc, base_url(request, api_prefix=True), now)
    return json_response({"status": "ok", "id": doc["_id"], "blackout": answer}, status=201,
                         headers={"Location": answer["href"]})


async def get_blackout(request: web.Request) -> web.Response:
    require(request, "read:blackouts")
    doc = await _repository(request).get_blackout(request.match_info["id"])
    if doc is None:
        raise ApiError(404, "not found")
    check_visible(request, doc.get("customer"))
    answer = blackout_body(doc, base_url(request, api_prefix=True), datetime.now(UTC))
    return json_response({"status": "ok", "total": 1, "blackout": answer})


async def update_blackout(request: web.Request) -> web.Response:
    require(request, "write:blackouts")
    raw = await read_json(request)
    if not raw:
        raise ApiError(400, "nothing to change")
    changes = load_body(BLACKOUT_CHANGES, raw)
    repository = _repository(request)
    doc = await repository.get_blackout(request.match_info["id"])
    if doc is None:
        raise ApiError(404, "not found")
    check_visible(request, doc.get("customer"))
    new = dict(doc, user=request[PRINCIPAL].user)
    if changes.get("environment") is not None:
        new["environment"] = changes["environment"]
    new.update({name: changes[name] for name in OPTIONAL if name in changes})
    new.update({name: changes[name] or [] for name in ("service", "tags") if name in changes})
    if "customer" in changes:
        new["customer"] = customer_for_write(request, changes["customer"])
    start = _ms(changes.get("startTime") or doc["startTime"])
    end = _end(start, changes.get("endTime"), changes.get("duration")) \
        if changes.get("endTime") or changes.get("duration") else doc["endTime"]
    if not await repository.replace_blackout(_timed(new, start, end)):
        raise ApiError(404, "not found")
    await _announce(request, events.UPDATED, new["_id"], new)
    answer = blackout_body(new, base_url(request, api_prefix=True), datetime.now(UTC))
    return json_response({"status": "ok", "blackout": answer})


async def delete_blackout(request: web.Request) -> web.Response:
    require(request, "write:blackouts")
    ident = request.match_info["id"]
    doc = await _repository(request).get_blackout(ident)
    check_visible(request, doc.get("customer") if doc else None)
    if not await _repository(request).delete_blackout(ident):
        raise ApiError(404, "not found")
    await _announce(request, events.DELETED, ident, None)
    return json_response({"status": "ok"})


def _no_patterns(name: str, values: list[str]) -> None:
    if any(value.startswith("~") for value in values):
        raise ApiError(400, f"{name}: patterns (~) are not supported in blackout filters; give exact values")


def _query(request: web.Request, now: datetime) -> dict[str, Any]:
    """The store filter of GET /blackouts: exact values only (a deliberate difference: Alerta's ``~`` patterns
    are not taken), every unknown parameter a 400 as in Alerta."""
    query = exact_filters(request, FILTERS, CONTROLS, _no_patterns)
    wanted = request.query.getall("status", [])
    unknown = [value for value in wanted if value not in STATUSES]
    if unknown:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}, got {unknown[0]!r}")
    if wanted:
        rules = {PENDING: {"startTime": {"$gt": now}}, EXPIRED: {"endTime": {"$lte": now}},
                 ACTIVE: {"startTime": {"$lte": now}, "endTime": {"$gt": now}}}
        query["$or"] = [rules[value] for value in dict.fromkeys(wanted)]
    return own_customers(request, query)  # a bound caller lists its customers' blackouts only


def _number(request: web.Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw) if len(raw) <= 12 else None
    except ValueError:
        value = None
    if value is None or not minimum <= value <= maximum:
        raise ApiError(400, f"{name} must be an integer between 1 and {maximum}, got {raw[:64]!r}")
    return value


async def list_blackouts(request: web.Request) -> web.Response:
    require(request, "read:blackouts")
    now = datetime.now(UTC)
    query = _query(request, now)
    page = _number(request, "page", 1, -1_000_000, 1_000_000)
    size = _number(request, "page-size", request.app[SETTINGS].query.default_page_size, 1, MAX_PAGE_SIZE)
    sort = sort_keys(request, SORTS, TIEBREAK)
    total, docs = await _repository(request).list_blackouts(query, sort, max(page - 1, 0) * size, size)
    if page < 1:  # as Alerta's blackout list: a page below the first is a 416 too
        raise ApiError(416, f"page out of range: 1-{page_count(total, size)}")
    check_page(page, size, total)
    base = base_url(request, api_prefix=True)
    return json_response(listed("blackouts", [blackout_body(doc, base, now) for doc in docs],
                                **page_keys(total, page, size)))


BLACKOUT_ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/blackout", create_blackout),
    ("GET", "/blackouts", list_blackouts),
    ("GET", "/blackout/{id}", get_blackout),
    ("PUT", "/blackout/{id}", update_blackout),
    ("DELETE", "/blackout/{id}", delete_blackout),
]
