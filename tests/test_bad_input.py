"""Every bad input gets a 4xx JSON error naming the problem; nothing a client sends produces a 5xx."""

from __future__ import annotations

import json

import pytest

from .support import Stack, alert, assert_error, unique


async def test_body_that_is_not_json(stack: Stack) -> None:
    status, body = await stack.post_alert({}, raw=b"{not json")
    assert_error(status, body, 400, "JSON")


async def test_body_that_is_not_an_object(stack: Stack) -> None:
    status, body = await stack.post_alert({}, raw=b"[1, 2]")
    assert_error(status, body, 400, "object")


async def test_empty_body(stack: Stack) -> None:
    status, body = await stack.post_alert({}, raw=b"")
    assert_error(status, body, 400, "empty")


@pytest.mark.parametrize("missing", ["resource", "event"])
async def test_missing_mandatory_field(stack: Stack, missing: str) -> None:
    body = alert(unique())
    del body[missing]
    status, reply = await stack.post_alert(body)
    assert_error(status, reply, 400, missing)
    assert missing in reply["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service", "Web"),
        ("attributes", ["a"]),
        ("tags", "london"),
        ("correlate", "NodeUp"),
        ("timeout", "soon"),
        ("timeout", 1.5),
        ("timeout", True),
        ("timeout", -1),
        ("severity", "catastrophic"),
        ("status", "resolved"),
        ("createTime", "yesterday"),
        ("resource", ""),
        ("attributes", {"a.b": 1}),
        ("attributes", {"$where": 1}),
        ("attributes", {"big": 2**70}),
        ("attributes", {"a\x00b": 1}),
        ("attributes", {"a": {"deep\x00key": 1}}),
        ("rawData", {"k\x00": "v"}),
        ("resource", {"nested": True}),
        ("createTime", "0001-01-01T00:00:00+01:00"),  # no UTC date-time exists: was an OverflowError, a 500
        ("resource", "web\ud800"),  # a lone surrogate: valid JSON, never storable
        ("origin", "probe\nforged log line"),
        ("tags", ["a\x00b"]),
        ("text", "x" * (64 * 1024 + 1)),
    ],
)
async def test_wrong_type_or_value_names_the_field(stack: Stack, field: str, value: object) -> None:
    body = alert(unique())
    body[field] = value
    status, reply = await stack.post_alert(body)
    assert_error(status, reply, 400, field)


async def test_oversized_body_is_413(stack: Stack) -> None:
    big = alert(unique(), text="x" * (stack.settings.max_body_bytes + 10))
    status, reply = await stack.post_alert({}, raw=json.dumps(big).encode())
    assert_error(status, reply, 413, "larger than")


async def test_bad_heartbeat(stack: Stack) -> None:
    status, reply = await stack.request("POST", "/heartbeat", {"origin": "x", "tags": "a"})
    assert_error(status, reply, 400, "tags")
    status, reply = await stack.request("POST", "/heartbeat", {"origin": "x", "timeout": "1"})
    assert_error(status, reply, 400, "timeout")
    # A key the database cannot store (BSON keys end at a NUL) is refused here, not dead-lettered later.
    status, reply = await stack.request("POST", "/heartbeat", {"origin": "x", "attributes": {"a\x00": "1"}})
    assert_error(status, reply, 400, "attributes")
    # An origin is one line: a newline in it forged log lines and lines of /management/healthcheck.
    status, reply = await stack.request("POST", "/heartbeat", {"origin": "x\nOK fake"})
    assert_error(status, reply, 400, "origin")


async def test_deeply_nested_body_is_400_not_a_recursion_error(stack: Stack) -> None:
    status, reply = await stack.post_alert({}, raw=b"[" * 5000 + b"]" * 5000)
    assert_error(status, reply, 400, "nested")


async def test_unknown_route_and_method_are_json(stack: Stack) -> None:
    status, reply = await stack.request("DELETE", "/nowhere")
    assert_error(status, reply, 404, "not found")  # a path no route serves: 404 whatever the method, as Alerta
    status, reply = await stack.request("DELETE", "/heartbeats")
    assert_error(status, reply, 405, "GET")  # a path served with other methods
    status, reply = await stack.request("GET", "/alert/does-not-exist")
    assert_error(status, reply, 404, "not found")


async def test_missing_and_invalid_key_are_401(stack: Stack) -> None:
    status, reply = await stack.post_alert(alert(unique()), auth=False)
    assert_error(status, reply, 401, "authentication")
    status, reply = await stack.post_alert(alert(unique()), auth=False, headers={"X-API-Key": "wrong"})
    assert_error(status, reply, 401, "invalid")
    status, reply = await stack.request("GET", "/alert/x?api-key=wrong", auth=False)
    assert_error(status, reply, 401, "invalid")


async def test_key_in_query_string_and_x_api_key_header_authenticate(stack: Stack) -> None:
    key = stack.auth["Authorization"].split()[1]
    status, _ = await stack.request("POST", f"/alert?api-key={key}", alert(unique()), auth=False)
    assert status == 201
    status, _ = await stack.post_alert(alert(unique()), auth=False, headers={"X-API-Key": key})
    assert status == 201


async def test_responses_carry_request_id_and_cors(stack: Stack) -> None:
    async with stack.session.options(
        stack.url + "/alert",
        headers={"Origin": "http://example.com", "Access-Control-Request-Method": "POST"},
    ) as resp:
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert resp.headers["X-Request-ID"]
    async with stack.session.get(stack.url + "/_", headers={"X-Request-ID": "abc-123"}) as resp:
        assert resp.status == 200 and resp.headers["X-Request-ID"] == "abc-123"
