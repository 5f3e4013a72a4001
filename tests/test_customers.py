"""``/customer`` and ``/customers`` (customer lookups) on the session's stack: Alerta 9.1's answers, paging and
filters, who may do what, and bad or hostile input refused with a 4xx naming what is wrong (nothing stored). The
real ``alerta`` client's ``customer`` and ``customers`` commands against them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from shared import limits

from .alerta_cli import alerta
from .support import Stack, assert_error, unique

HUGE = ["x"] * 20_000


async def make_customer(stack: Stack, customer: str, match: str) -> dict[str, Any]:
    status, body = await stack.request("POST", "/customer", {"customer": customer, "match": match})
    assert status == 201, body
    assert body["status"] == "ok" and body["id"] == body["customer"]["id"]
    return dict(body["customer"])


async def test_create_get_update_delete_as_alerta_answers(stack: Stack) -> None:
    name, match = unique("Acme"), unique("dom") + ".example"
    async with stack.session.post(stack.url + "/customer", headers=stack.auth,
                                  json={"customer": name, "match": match}) as resp:
        assert resp.status == 201
        made = await resp.json()
        ident = made["id"]
        assert resp.headers["Location"] == f"{stack.url}/customer/{ident}"
    assert made == {"status": "ok", "id": ident, "customer": {
        "id": ident, "customer": name, "match": match, "href": f"{stack.url}/customer/{ident}"}}
    assert await stack.request("GET", f"/customer/{ident}") == (200, {
        "status": "ok", "total": 1, "customer": made["customer"]})
    status, body = await stack.request("GET", f"/api/customer/{ident}")
    assert status == 200 and body["customer"]["href"] == f"{stack.url}/api/customer/{ident}"
    status, body = await stack.request("PUT", f"/customer/{ident}", {"customer": name + "-2", "match": None})
    assert (status, body["customer"]["customer"], body["customer"]["match"]) == (200, name + "-2", match)
    status, body = await stack.request("PUT", f"/customer/{ident}", {"match": "other.example"})
    assert (body["customer"]["customer"], body["customer"]["match"]) == (name + "-2", "other.example")
    assert await stack.request("DELETE", f"/customer/{ident}") == (200, {"status": "ok"})
    for method in ("GET", "PUT", "DELETE"):
        status, body = await stack.request(method, f"/customer/{ident}", {"match": "x"})
        assert_error(status, body, 404, "not found")


async def test_list_pages_filters_and_sorts(stack: Stack) -> None:
    prefix = unique("List")
    made = [await make_customer(stack, f"{prefix}-{n}", f"{prefix}-m{2 - n}") for n in range(3)]
    query = urlencode([("customer", c["customer"]) for c in made] + [("page-size", "2")])
    status, body = await stack.request("GET", f"/customers?{query}")
    assert status == 200 and (body["total"], body["pages"], body["more"], body["pageSize"]) == (3, 2, True, 2)
    assert [c["customer"] for c in body["customers"]] == [f"{prefix}-0", f"{prefix}-1"]
    status, body = await stack.request("GET", f"/customers?{query}&page=2&sort-by=match")
    assert [c["customer"] for c in body["customers"]] == [f"{prefix}-0"]
    assert_error(*(await stack.request("GET", f"/customers?{query}&page=3")), 416, "page out of range")
    status, body = await stack.request("GET", f"/customers?{urlencode({'match': made[1]['match']})}")
    assert [c["id"] for c in body["customers"]] == [made[1]["id"]]
    status, body = await stack.request("GET", "/customers?customer=nobody-at-all")
    assert (status, body["customers"], body["total"], body["message"]) == (200, [], 0, "not found")
    assert_error(*(await stack.request("GET", "/customers?colour=red")), 400, "colour")
    assert_error(*(await stack.request("GET", "/customers?sort-by=colour")), 400, "colour")
    for customer in made:
        assert (await stack.request("DELETE", f"/customer/{customer['id']}"))[0] == 200


async def test_writes_need_the_admin_scope_and_reads_a_key(stack: Stack) -> None:
    status, body = await stack.request("POST", "/key", {"user": "reader@example.com", "scopes": ["read", "write"]})
    headers = {"Authorization": f"Key {body['key']}"}
    made = await make_customer(stack, unique("Scoped"), unique("m"))
    status, body = await stack.request("POST", "/customer", {"customer": "x", "match": "y"}, auth=False,
                                       headers=headers)
    assert_error(status, body, 403, "admin")
    assert_error(*(await stack.request("DELETE", f"/customer/{made['id']}", auth=False, headers=headers)), 403)
    assert_error(*(await stack.request("PUT", f"/customer/{made['id']}", {"match": "z"}, auth=False,
                                       headers=headers)), 403)
    assert (await stack.request("GET", f"/customer/{made['id']}", auth=False, headers=headers))[0] == 200
    assert_error(*(await stack.request("GET", "/customers", auth=False)), 401)
    assert (await stack.request("DELETE", f"/customer/{made['id']}"))[0] == 200


BAD_BODIES: list[tuple[Any, str]] = [
    ({}, "customer"),
    ({"customer": "Acme"}, "match"),
    ({"match": "acme.com"}, "customer"),
    ({"customer": "", "match": "acme.com"}, "customer"),
    ({"customer": None, "match": "acme.com"}, "customer"),
    ({"customer": ["Acme"], "match": "acme.com"}, "customer"),
    ({"customer": "Acme\n", "match": "acme.com"}, "customer"),
    ({"customer": "A\ud800", "match": "acme.com"}, "customer"),
    ({"customer": "Acme", "match": "\udfffacme.com"}, "match"),
    ({"customer": "A" * (limits.GROUP_CHARS + 1), "match": "acme.com"}, "customer"),
    ({"customer": "Acme", "match": "m" * (limits.USER_CHARS + 1)}, "match"),
    ({"customer": HUGE, "match": "acme.com"}, "customer"),
    ({"customer": {"a": {"b": {"c": [[[[1]]]]}}}, "match": "acme.com"}, "customer"),
    ([{"customer": "Acme", "match": "acme.com"}], "object"),
    ("Acme", "object"),
]


@pytest.mark.parametrize(("body", "word"), BAD_BODIES)
async def test_bad_customer_is_refused_naming_the_field(stack: Stack, body: Any, word: str) -> None:
    before = await stack.store.db["customers"].count_documents({})
    status, reply = await stack.request("POST", "/customer", raw=json.dumps(body).encode())
    assert_error(status, reply, 400, word)
    assert await stack.store.db["customers"].count_documents({}) == before


@pytest.mark.parametrize("payload", [b"", b"not json", b"[" * 5000 + b"]" * 5000, b'{"customer": NaN}',
                                     b'{"customer": "\xff\xfe", "match": "x"}'])
async def test_undecodable_bodies_are_400(stack: Stack, payload: bytes) -> None:
    status, reply = await stack.request("POST", "/customer", raw=payload)
    assert_error(status, reply, 400)


async def test_bad_updates_change_nothing(stack: Stack) -> None:
    made = await make_customer(stack, unique("Upd"), unique("m"))
    path = f"/customer/{made['id']}"
    for body, word in [({}, "nothing to change"), ({"customer": None, "match": None}, "nothing to change"),
                       ({"customer": ""}, "customer"), ({"match": "\ud800"}, "match"), ({"match": HUGE}, "match"),
                       ({"customer": "x" * 100_000}, "customer"), ([1], "object")]:
        status, reply = await stack.request("PUT", path, raw=json.dumps(body).encode())
        assert_error(status, reply, 400, word)
    assert (await stack.request("GET", path))[1]["customer"] == made
    for ident in ("\ud800", "x" * 5000, "%00"):
        status, reply = await stack.request("GET", f"/customer/{ident}")
        assert 400 <= status < 500 and reply["status"] == "error", reply
    assert (await stack.request("DELETE", path))[0] == 200


async def test_key_customer_is_validated(stack: Stack) -> None:
    for customer, word in [("\ud800", "customer"), ("x" * 100_000, "customer"), (["a"], "customer"),
                           ("a\nb", "customer")]:
        body = json.dumps({"user": "u", "customer": customer}).encode()
        status, reply = await stack.request("POST", "/key", raw=body)
        assert_error(status, reply, 400, word)
    status, reply = await stack.request("POST", "/alert", raw=json.dumps({
        "resource": "r", "event": "e", "service": ["s"], "environment": "Production", "customer": "\ud800"}).encode())
    assert_error(status, reply, 400, "customer")
    body = json.dumps({"origin": "o", "customer": HUGE}).encode()
    status, reply = await stack.request("POST", "/heartbeat", raw=body)
    assert_error(status, reply, 400, "customer")


async def test_alerta_client_manages_customers(stack: Stack, cli_env: dict[str, str]) -> None:
    name, match = unique("Cli"), unique("cli") + ".example"
    ident = (await alerta(cli_env, "customer", "--customer", name, "--org", match)).strip()
    status, body = await stack.request("GET", f"/customer/{ident}")
    assert status == 200 and (body["customer"]["customer"], body["customer"]["match"]) == (name, match)
    table = (await alerta(cli_env, "customers")).splitlines()
    assert table[0].split() == ["ID", "GROUP", "CUSTOMER"]
    assert next(line for line in table if line.startswith(ident)).split() == [ident, match, name]
    listed = json.loads(await alerta(cli_env, "--output", "json", "customers"))
    assert {"id": ident, "customer": name, "match": match, "href": f"{stack.url}/customer/{ident}"} in listed
    await alerta(cli_env, "customer", "--delete", ident)
    assert_error(*(await stack.request("GET", f"/customer/{ident}")), 404)
