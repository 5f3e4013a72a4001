"""Alerta 9.1's exact answers where clients see them (each compared with a local Alerta 9.1 server): the keys of
lists and counts, "not found" on empty lists, 416 past the last page, the top n, filters, new alert defaults, the
Alertmanager webhook's answer, unknown paths, and v3's deletes by POST. Against the real stack; the pure rules
(paging, own event in correlate) as plain unit tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from services.query.heartbeats import HEARTBEAT_ROUTES
from services.query.views import ROUTES
from shared.paging import check_page, listed, page_keys
from shared.responses import ApiError
from shared.routes import READ_PATHS
from shared.rules import own_correlate

from .support import Stack
from .support.alerts import alert, assert_error, unique
from .support.documents import environment, minutes, seed, stored_alert, with_history
from .support.webhooks import alertmanager, am_alert

EMPTY_LISTS = {
    "/alerts/top10/count": "top10", "/alerts/top10/flapping": "top10", "/alerts/topn/count": "top10",
    "/alerts/topn/flapping": "top10", "/alerts/topn/standing": "top10", "/alerts/history": "history",
    "/services": "services", "/alerts/groups": "groups", "/alerts/tags": "tags",
}


async def get(stack: Stack, path: str, *params: tuple[str, str]) -> tuple[int, Any]:
    status, body = await stack.request("GET", f"{path}?{urlencode(params)}" if params else path)
    assert isinstance(body, dict), body
    return status, body


# -- pure rules ---------------------------------------------------------------------------------------------------

def test_page_past_the_last_is_416_naming_the_range() -> None:
    check_page(1, 50, 0)  # any page of an empty result answers the empty list
    check_page(9, 50, 0)
    check_page(2, 2, 3)
    with pytest.raises(ApiError) as raised:
        check_page(3, 2, 3)
    assert (raised.value.code, raised.value.message) == (416, "page out of range: 1-2")


def test_paging_keys_and_not_found() -> None:
    assert page_keys(3, 1, 2) == {"total": 3, "page": 1, "pageSize": 2, "pages": 2, "more": True}
    assert page_keys(0, 1, 50) == {"total": 0, "page": 1, "pageSize": 50, "pages": 0, "more": False}
    assert listed("keys", [], total=0) == {"status": "ok", "message": "not found", "keys": [], "total": 0}
    assert listed("keys", [1], total=1) == {"status": "ok", "keys": [1], "total": 1}


def test_own_event_is_appended_to_a_correlate_list() -> None:
    assert own_correlate("DiskFull", ["DiskOk"]) == ["DiskOk", "DiskFull"]
    assert own_correlate("Up", ["Down", "Up"]) == ["Down", "Up"]
    assert own_correlate("HttpError", []) == []  # correlates with nothing: stays empty


def test_the_gateway_knows_every_read_the_query_service_serves() -> None:
    """So that another method on a read's path is a 405, not a 404 (shared/routes.py)."""
    assert {path for _, path, _ in ROUTES + HEARTBEAT_ROUTES} == set(READ_PATHS)


# -- lists and counts ---------------------------------------------------------------------------------------------

async def test_empty_lists_say_not_found(stack: Stack) -> None:
    env = environment()
    status, body = await get(stack, "/alerts", ("environment", env))
    assert status == 200 and body["message"] == "not found" and body["alerts"] == []
    assert (body["total"], body["pages"], body["more"], body["autoRefresh"]) == (0, 0, False, True)
    for path, name in EMPTY_LISTS.items():
        status, body = await get(stack, path, ("environment", env))
        assert status == 200, (path, body)
        assert body == {"status": "ok", "message": "not found", name: [], "total": 0} or (
            path == "/alerts/history" and body["message"] == "not found" and body[name] == []), (path, body)
    status, body = await get(stack, "/environments", ("environment", env))
    assert body == {"status": "ok", "message": "not found", "environments": [], "total": 0, "page": 1,
                    "pageSize": 50, "pages": 0, "more": False}


async def test_counts_carry_auto_refresh(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, "web01")])
    status, body = await get(stack, "/alerts/count", ("environment", env))
    assert status == 200 and body == {"status": "ok", "total": 1, "severityCounts": {"major": 1},
                                       "statusCounts": {"open": 1}, "autoRefresh": True}


async def test_a_page_past_the_last_is_416(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, f"web{n}", at=minutes(n)) for n in range(3)])
    status, body = await get(stack, "/alerts", ("environment", env), ("page", "2"))
    assert_error(status, body, 416, "page out of range: 1-1")
    status, body = await get(stack, "/alerts", ("environment", env), ("page", "2"), ("page-size", "2"))
    assert status == 200 and (body["pages"], body["more"], len(body["alerts"])) == (2, False, 1)
    status, body = await get(stack, "/environments", ("environment", env), ("page", "2"))
    assert_error(status, body, 416, "page out of range: 1-1")
    status, body = await get(stack, "/alerts/top10/count", ("environment", env), ("page", "2"))
    assert_error(status, body, 416, "page out of range: 1-1")
    status, _ = await stack.request("POST", "/heartbeat", {"origin": unique("answers")})
    assert status == 201
    status, body = await get(stack, "/heartbeats", ("page", "1000000"))
    assert status == 416 and str(body["message"]).startswith("page out of range: 1-")


async def test_environments_are_paged(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, "web01")])
    status, body = await get(stack, "/environments", ("environment", env), ("page-size", "1"))
    assert status == 200 and "message" not in body
    assert {key: body[key] for key in ("total", "page", "pageSize", "pages", "more")} == {
        "total": 1, "page": 1, "pageSize": 1, "pages": 1, "more": False}
    assert body["environments"] == [{"environment": env, "count": 1, "severityCounts": {"major": 1},
                                     "statusCounts": {"open": 1}}]


async def test_listed_alerts_carry_an_empty_history(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, "web01")])
    _, body = await get(stack, "/alerts", ("environment", env))
    assert body["alerts"][0]["history"] == []
    _, body = await get(stack, "/alerts", ("environment", env), ("show-history", "true"))
    assert [entry["type"] for entry in body["alerts"][0]["history"]] == ["new"]


# -- top n --------------------------------------------------------------------------------------------------------

async def test_top_n_lists_page_size_groups(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, f"web{n}", f"Event{n:02}") for n in range(12)])
    for path in ("/alerts/top10/count", "/alerts/topn/count"):
        _, body = await get(stack, path, ("environment", env))
        assert body["total"] == 12 and len(body["top10"]) == 12, path
        _, body = await get(stack, path, ("environment", env), ("page-size", "3"))
        assert body["total"] == 3 and len(body["top10"]) == 3, path
    _, body = await get(stack, "/alerts/top10", ("environment", env))  # v3: ten
    assert body["total"] == 10
    _, body = await get(stack, "/alerts/topn/count", ("environment", env), ("group-by", "resource"),
                        ("page-size", "1"))
    row = body["top10"][0]
    assert set(row) == {"resource", "count", "duplicateCount", "environments", "services", "resources"}


async def test_topn_standing_ranks_by_the_time_alerts_stood(stack: Stack) -> None:
    env = environment()
    brief = with_history(stored_alert(env, "brief", "Brief", at=minutes(50)), ("severity", "minor", minutes(50)))
    brief["createTime"] = minutes(49)
    long = with_history(stored_alert(env, "long", "Long", at=minutes(50)), ("severity", "minor", minutes(50)))
    long["createTime"] = minutes(50) - timedelta(days=3)
    never = stored_alert(env, "never", "Never")  # no severity change: neither flaps nor stands
    await seed(stack.store, [brief, long, never])
    _, body = await get(stack, "/alerts/topn/standing", ("environment", env))
    assert [row["event"] for row in body["top10"]] == ["Long", "Brief"]
    _, body = await get(stack, "/alerts/topn/flapping", ("environment", env))
    assert sorted(row["event"] for row in body["top10"]) == ["Brief", "Long"]


# -- filters ------------------------------------------------------------------------------------------------------

async def test_tag_filters_one_tag(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, "web01", tags=["london", "dc1"]), stored_alert(env, "web02")])
    _, body = await get(stack, "/alerts", ("environment", env), ("tag", "london"))
    assert [a["resource"] for a in body["alerts"]] == ["web01"]
    _, body = await get(stack, "/alerts", ("environment", env), ("tag!", "london"))
    assert [a["resource"] for a in body["alerts"]] == ["web02"]
    _, body = await get(stack, "/alerts/count", ("environment", env), ("tag", "dc1"))
    assert body["total"] == 1


async def test_bang_in_a_value_is_literal(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, "web01"), stored_alert(env, "!web01", "Other")])
    _, body = await get(stack, "/alerts", ("environment", env), ("resource", "!web01"))
    assert [a["resource"] for a in body["alerts"]] == ["!web01"]
    _, body = await get(stack, "/alerts", ("environment", env), ("resource!", "web01"))
    assert [a["resource"] for a in body["alerts"]] == ["!web01"]


# -- writes -------------------------------------------------------------------------------------------------------

async def test_a_new_alert_has_null_value_and_raw_data_and_correlates_with_itself(stack: Stack) -> None:
    body = alert(unique(), "DiskFull", correlate=["DiskOk"])
    del body["value"]
    status, answer = await stack.post_alert(body)
    assert status == 201 and set(answer) == {"status", "id", "alert"}
    created = answer["alert"]
    assert created["value"] is None and created["rawData"] is None
    assert created["history"][0]["value"] is None
    assert created["correlate"] == ["DiskOk", "DiskFull"]
    status, answer = await stack.post_alert(alert(unique(), "HttpError"))
    assert answer["alert"]["correlate"] == [] and answer["alert"]["value"] == "1"


async def test_alertmanager_answers_like_alerta(stack: Stack) -> None:
    one = am_alert(labels={"instance": unique("am")})
    status, body = await stack.request("POST", "/webhooks/prometheus", alertmanager(one))
    assert status == 201 and set(body) == {"status", "id", "alert"}, body
    assert body["id"] == body["alert"]["id"] and body["alert"]["value"] is None
    several = [am_alert(labels={"instance": unique("am")}) for _ in range(2)]
    status, body = await stack.request("POST", "/webhooks/prometheus", alertmanager(*several))
    assert status == 201 and set(body) == {"status", "ids"} and len(body["ids"]) == 2, body
    status, body = await stack.request("POST", "/webhooks/prometheus", alertmanager())
    assert (status, body) == (201, {"status": "ok", "ids": []})


# -- routes -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "GET"])
async def test_an_unknown_path_is_404_whatever_the_method(stack: Stack, method: str) -> None:
    status, body = await stack.request(method, "/no/such/route", {} if method in ("POST", "PUT") else None)
    assert_error(status, body, 404, "not found")


async def test_another_method_on_a_known_path_is_405(stack: Stack) -> None:
    for method, path in (("DELETE", "/alerts"), ("PUT", "/alert"), ("POST", "/api/heartbeats")):
        async with stack.session.request(method, stack.url + path, headers=stack.auth) as resp:
            assert resp.status == 405, (method, path)
            assert "GET" in resp.headers["Allow"] or "POST" in resp.headers["Allow"]
            assert (await resp.json())["code"] == 405


async def test_v3_post_with_method_delete_deletes_users_and_keys(stack: Stack) -> None:
    email = f"{unique('user')}@example.com"
    status, _ = await stack.request("POST", "/user", {"user": email})
    assert status == 201
    status, body = await stack.request("POST", f"/user/{email}", {"_method": "delete"})
    assert (status, body) == (200, {"status": "ok"})
    status, body = await stack.request("DELETE", f"/user/{email}")
    assert_error(status, body, 404, "not found")
    status, body = await stack.request("POST", "/key", {"user": unique("keyuser"), "scopes": ["read"]})
    assert status == 201
    key = body["key"]
    status, body = await stack.request("POST", f"/key/{key}", {"_method": "delete"})
    assert (status, body) == (200, {"status": "ok"})
    status, body = await stack.request("POST", f"/api/key/{key}", {"_method": "delete"})
    assert_error(status, body, 404, "not found")
    status, body = await stack.request("POST", f"/key/{key}", {"_method": "put"})
    assert status == 405


async def test_keys_and_users_are_listed_with_alertas_paging(stack: Stack) -> None:
    _, keys = await get(stack, "/keys")
    assert {"status", "keys", "total", "page", "pageSize", "pages", "more"} <= set(keys)
    assert keys["total"] >= 1 and "message" not in keys  # the admin key at least
    status, body = await get(stack, "/keys", ("page", str(keys["pages"] + 1)))
    assert_error(status, body, 416, "page out of range")
    _, users = await get(stack, "/users", ("page-size", "1"))
    assert {"status", "users", "total", "page", "pageSize", "pages", "more", "domains"} <= set(users)
