"""Every 400 of the read API names the offending parameter, on every endpoint that takes the filters."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from .support import Stack

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
    ([("q", "severity:major AND")], "q"),  # a query string with a syntax error
    ([("q", "colour:red")], "q"),  # a query string naming an unknown field
    ([("q", "resource:/(a+)+$/")], "q"),
    ([("q", "resource:web~2")], "q"),  # fuzzy search: not supported
    ([("q", "web"), ("q.df", "colour")], "q.df"),
    ([("q", '{"$where": "1"}')], "q"),
    ([("q", '{"resource": {"$elemMatch": {}}}')], "q"),
    ([("q", '{"secret": 1}')], "q"),
    ([("q", '{"resource": {"nested": "doc"}}')], "q"),
    ([("q", '{"$or": []}')], "q"),
    ([("q", '{"resource": {"$regex": "(x+)*y"}}')], "q"),
    ([("q", '{"lastReceiveTime": {"$gt": "not a date"}}')], "q"),
    ([("q", "[1]")], "q"),
    ([("q", "[" * 1500)], "q"),  # deeper than the JSON decoder recurses: was a 500
    # Dates that leave the years 1 to 9999 once in UTC: were a 500 (OverflowError).
    ([("from-date", "0001-01-01T00:00:00+01:00")], "from-date"),
    ([("to-date", "9999-12-31T23:59:59-01:00")], "to-date"),
    ([("q", '{"createTime": {"$lt": "0001-01-01T00:00:00+01:00"}}')], "q"),
    # Field names the store cannot take: NUL was a 500.
    ([("attributes.a\x00b", "1")], "attributes.a\x00b"),
    ([("attributes.a\x00b!", "1")], "attributes.a\x00b!"),
    ([("attributes.a..b", "1")], "attributes.a..b"),
    ([("q", '{"attributes.a\\u0000b": 1}')], "q"),
    ([("q", '{"resource": "\\ud800"}')], "q"),  # JSON escapes can make text that cannot be encoded
    ([("resource", "~a\x00")], "resource"),
]


@pytest.mark.parametrize(("params", "name"), BAD, ids=[f"{p[0][0][:30]}={p[0][1][:20]}" for p, _ in BAD])
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


@pytest.mark.parametrize(("name", "problem"), [
    ("attributes." + ".".join("p" * 40), "deeper than 32 parts"), ("attributes." + "n" * 5000, "too long"),
])
async def test_deep_or_long_attribute_names_are_400(stack: Stack, name: str, problem: str) -> None:
    status, body = await stack.request("GET", f"/alerts?{urlencode([(name, '1')])}")
    assert status == 400 and problem in body["message"] and list(body["errors"]) == [name], body
    assert len(body["message"]) < 300  # the name is quoted back shortened


@pytest.mark.parametrize("query", [
    "resource=%ED%A0%80", "attributes.%ED%A0%80=1", "attributes.x=%ED%A0%80%FF", "resource=~%ED%A0%80",
    "tags!=%ED%A0%80", "q=%7B%22resource%22%3A%22%ED%A0%80%22%7D", "attributes.a.b.c=%00",
])
async def test_undecodable_bytes_in_names_and_values_are_not_an_error(stack: Stack, query: str) -> None:
    """Percent-encoded bytes that are not UTF-8 (here a surrogate's encoding) reach the filters as U+FFFD, a
    character like any other: a filter that matches nothing, never a 500."""
    status, body = await stack.request("GET", f"/alerts?environment=Nowhere&{query}")
    assert status == 200 and body["total"] == 0, body


async def test_short_ids_with_odd_characters_are_looked_up_literally(stack: Stack) -> None:
    for path in ("/heartbeat/a%00b.*def", "/alert/a%00b.*def", "/heartbeat/(a+)+$b"):
        status, body = await stack.request("GET", path)
        assert status == 404 and body["message"] == "not found", (path, body)
