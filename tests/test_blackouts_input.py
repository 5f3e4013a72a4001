"""Bad and hostile input to the blackout routes: a 4xx JSON error naming what is wrong, never a 500, and nothing
stored. Also who may do what (scopes, customers)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import limits

from .support import Stack, assert_error, unique

HUGE = [f"t{i}" for i in range(20_000)]
BAD_BODIES: list[tuple[Any, str]] = [
    ({}, "environment"),
    ({"environment": None}, "environment"),
    ({"environment": ""}, "environment"),
    ({"environment": "Production\n"}, "environment"),
    ({"environment": "P", "resource": ""}, "resource"),
    ({"environment": "P", "event": ""}, "event"),
    ({"environment": "P", "group": ""}, "group"),
    ({"environment": "P", "origin": ""}, "origin"),
    ({"environment": "P", "service": "web"}, "service"),
    ({"environment": "P", "tags": "web"}, "tags"),
    ({"environment": "P", "tags": HUGE}, "tags"),
    ({"environment": "P", "service": HUGE}, "service"),
    ({"environment": "P", "tags": ["t" * (limits.TAG_CHARS + 1)]}, "tags"),
    ({"environment": "P", "text": "x" * (limits.BLACKOUT_TEXT_CHARS + 1)}, "text"),
    ({"environment": "P", "resource": "r" * (limits.RESOURCE_CHARS + 1)}, "resource"),
    ({"environment": "P\ud800"}, "environment"),
    ({"environment": "P", "text": "bad \udfff text"}, "text"),
    ({"environment": "P", "tags": ["ok", "\ud800"]}, "tags"),
    ({"environment": "P", "startTime": "bad"}, "startTime"),
    ({"environment": "P", "startTime": "2026-13-01T00:00:00.000Z"}, "startTime"),
    ({"environment": "P", "endTime": 12}, "endTime"),
    ({"environment": "P", "startTime": "0001-01-01T00:00:00+01:00"}, "startTime"),
    ({"environment": "P", "startTime": "2030-01-01T01:00:00.000Z", "endTime": "2030-01-01T00:00:00.000Z"},
     "endTime"),
    ({"environment": "P", "startTime": "2030-01-01T00:00:00.000Z", "endTime": "2030-01-01T00:00:00.000Z"},
     "endTime"),
    ({"environment": "P", "endTime": "2020-01-01T00:00:00.000Z"}, "endTime"),  # before now, the default start
    ({"environment": "P", "startTime": "9999-12-31T00:00:00.000Z", "duration": 86400 * 365}, "endTime"),
    ({"environment": "P", "duration": -5}, "duration"),
    ({"environment": "P", "duration": "abc"}, "duration"),
    ({"environment": "P", "duration": 1.5}, "duration"),
    ({"environment": "P", "duration": True}, "duration"),
    ({"environment": "P", "duration": 10**30}, "duration"),
    ([{"environment": "P"}], "object"),
    ("Production", "object"),
]


def raw(body: Any) -> bytes:
    return json.dumps(body).encode()  # ASCII escapes: "\ud800" arrives as a lone surrogate


@pytest.mark.parametrize(("body", "word"), BAD_BODIES)
async def test_bad_blackout_is_refused_naming_the_field(stack: Stack, body: Any, word: str) -> None:
    before = await stack.store.db["blackouts"].count_documents({})
    status, reply = await stack.request("POST", "/blackout", raw=raw(body))
    assert_error(status, reply, 400, word)
    assert await stack.store.db["blackouts"].count_documents({}) == before


@pytest.mark.parametrize("payload", [b"", b"not json", b"[" * 5000 + b"]" * 5000, b'{"environment": NaN}'])
async def test_undecodable_bodies_are_400(stack: Stack, payload: bytes) -> None:
    status, reply = await stack.request("POST", "/blackout", raw=payload)
    assert_error(status, reply, 400)


async def test_bad_updates_are_refused_and_change_nothing(stack: Stack) -> None:
    status, made = await stack.request("POST", "/blackout", {"environment": "Production", "resource": unique()})
    assert status == 201
    path = f"/blackout/{made['id']}"
    for body, code, word in [({}, 400, "nothing to change"), ({"environment": ""}, 400, "environment"),
                             ({"startTime": "bad"}, 400, "startTime"), ({"tags": HUGE}, 400, "tags"),
                             ({"endTime": "2020-01-01T00:00:00.000Z"}, 400, "endTime"),
                             ({"text": "\ud800"}, 400, "text"), ([1], 400, "object")]:
        status, reply = await stack.request("PUT", path, raw=raw(body))
        assert_error(status, reply, code, word)
    status, after = await stack.request("GET", path)
    assert after["blackout"] == {**made["blackout"], "remaining": after["blackout"]["remaining"]}
    await stack.request("DELETE", path)


@pytest.mark.parametrize(("query", "code", "word"), [
    ("foo=1", 400, "Invalid filter parameter: foo"),
    ("status=bogus", 400, "status"),
    ("page=0", 416, "page out of range"),
    ("page=-1", 416, "page out of range"),
    ("page=x", 400, "page"),
    ("page=" + "9" * 5000, 400, "page"),
    ("page-size=1001", 400, "page-size"),
    ("page-size=x", 400, "page-size"),
    ("sort-by=status", 400, "Sorting by 'status' field not supported"),
    ("resource=~web", 400, "patterns"),
    ("environment=%ED%A0%80", 200, ""),  # not UTF-8: decoded to U+FFFD by the HTTP layer, then matches nothing
])
async def test_bad_list_parameters(stack: Stack, query: str, code: int, word: str) -> None:
    status, reply = await stack.request("GET", f"/blackouts?{query}")
    if code == 200:
        assert status == 200 and reply["blackouts"] == []
    else:
        assert_error(status, reply, code, word)


async def test_scopes_and_customers(stack: Stack) -> None:
    keys = {}
    for scope in ("read", "write"):
        status, body = await stack.request("POST", "/key", {"user": unique("user"), "scopes": [scope]})
        keys[scope] = {"Authorization": f"Key {body['key']}"}
    blackout = {"environment": "Production", "resource": unique()}
    status, reply = await stack.request("POST", "/blackout", blackout, auth=False, headers=keys["read"])
    assert_error(status, reply, 403, "write")
    status, reply = await stack.request("POST", "/blackout", {**blackout, "customer": "acme"}, auth=False,
                                        headers=keys["write"])
    assert_error(status, reply, 400, "not allowed to set customer to 'acme'")
    status, made = await stack.request("POST", "/blackout", {**blackout, "user": "someone"}, auth=False,
                                       headers=keys["write"])
    assert status == 201 and made["blackout"]["user"].startswith("user-")  # only an admin names another user
    ident = made["id"]
    assert (await stack.request("GET", "/blackouts", auth=False, headers=keys["read"]))[0] == 200
    assert (await stack.request("GET", f"/blackout/{ident}", auth=False, headers=keys["read"]))[0] == 200
    for method in ("PUT", "DELETE"):
        status, reply = await stack.request(method, f"/blackout/{ident}", {"text": "x"}, auth=False,
                                            headers=keys["read"])
        assert_error(status, reply, 403, "write")
    assert (await stack.request("GET", "/blackouts", auth=False))[0] == 401
    status, reply = await stack.request("PUT", f"/blackout/{ident}", {"customer": "acme"})  # the admin key may
    assert status == 200 and reply["blackout"]["customer"] == "acme"
    assert (await stack.request("DELETE", f"/blackout/{ident}", auth=False, headers=keys["write"]))[0] == 200
