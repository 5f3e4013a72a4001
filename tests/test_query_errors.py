"""Every 400 of the read API names the offending parameter, on every endpoint that takes the filters."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from .conftest import Stack

ENDPOINTS = ("/alerts", "/alerts/count", "/alerts/top10", "/alerts/top10/count", "/alerts/top10/flapping",
             "/alerts/history", "/environments", "/services")

BAD = [
    # (parameters, the parameter the message must name)
    ([("bogus", "1")], "bogus"),
    ([("bogus!", "1")], "bogus!"),
    ([("attributes.", "1")], "attributes."),
    ([("attributes.$where", "1")], "attributes.$where"),
    ([("createTime", "2024-01-01T00:00:00Z")], "createTime"),
    ([("severity", "catastrophic")], "severity"),
    ([("status", "sleeping")], "status"),
    ([("duplicateCount", "many")], "duplicateCount"),
    ([("repeat", "perhaps")], "repeat"),
    ([("resource", "~(unclosed")], "resource"),
    ([("resource", "~" + "a" * 257)], "resource"),
    ([("resource", "~(a+)+$")], "resource"),
    ([("from-date", "yesterday")], "from-date"),
    ([("to-date", "2024-13-45")], "to-date"),
    ([("page", "one")], "page"),
    ([("page", "0")], "page"),
    ([("page-size", "0")], "page-size"),
    ([("page-size", "1001")], "page-size"),
    ([("limit", "-1")], "limit"),
    ([("sort-by", "color")], "sort-by"),
    ([("reverse", "maybe")], "reverse"),
    ([("show-history", "sometimes")], "show-history"),
    ([("group-by", "text")], "group-by"),
    ([("q", "severity:major")], "q"),
    ([("q", '{"$where": "1"}')], "q"),
    ([("q", '{"resource": {"$elemMatch": {}}}')], "q"),
    ([("q", '{"secret": 1}')], "q"),
    ([("q", '{"resource": {"nested": "doc"}}')], "q"),
    ([("q", '{"$or": []}')], "q"),
    ([("q", '{"resource": {"$regex": "(x+)*y"}}')], "q"),
    ([("q", '{"lastReceiveTime": {"$gt": "not a date"}}')], "q"),
    ([("q", "[1]")], "q"),
]


@pytest.mark.parametrize(("params", "name"), BAD, ids=[f"{p[0][0]}={p[0][1][:20]}" for p, _ in BAD])
async def test_bad_list_parameter_is_400_naming_it(stack: Stack, params: list[tuple[str, str]], name: str) -> None:
    status, body = await stack.request("GET", f"/alerts?{urlencode(params)}")
    assert status == 400, body
    assert body["status"] == "error" and body["code"] == 400 and name in body["message"], body
    assert name in body["errors"]


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_every_endpoint_checks_its_filters(stack: Stack, path: str) -> None:
    status, body = await stack.request("GET", f"{path}?environment=Production&colour=red")
    assert status == 400 and "colour" in body["message"], body
    status, body = await stack.request("GET", f"/api{path}?page=x")
    assert status == 400 and "page" in body["message"], body


async def test_api_key_and_cache_busters_are_not_filters(stack: Stack) -> None:
    status, body = await stack.request("GET", "/alerts?environment=Nowhere&_=123&callback=&api-key=whatever",
                                       auth=True)
    assert status == 200 and body["alerts"] == [], body
