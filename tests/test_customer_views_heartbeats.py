"""CUSTOMER_VIEWS for heartbeats and blackouts (the alert routes: test_customer_views.py): a bound key's heartbeats
and blackouts are its customer's, two customers may send heartbeats of one origin, and each sees only its own."""

from __future__ import annotations

from urllib.parse import urlencode

from .support import alert, assert_error, unique
from .support.tenants import Tenants


async def test_heartbeats_are_the_senders_customers(tenants: Tenants) -> None:
    t = tenants
    origin = unique("origin")
    status, body = await t.as_(t.acme, "POST", "/heartbeat", {"origin": origin})
    assert status == 201 and body["heartbeat"]["customer"] == t.acme, body
    ident = body["id"]
    status, body = await t.as_(t.acme, "POST", "/heartbeat", {"origin": origin})
    assert status == 201 and body["id"] == ident  # upserted, the id kept
    status, reply = await t.as_(t.globex, "POST", "/heartbeat", {"origin": origin, "customer": t.acme})
    assert_error(status, reply, 400, "not allowed to set customer")
    assert_error(*(await t.as_(t.globex, "GET", f"/heartbeat/{ident}")), 404)
    status, body = await t.as_(t.globex, "GET", f"/heartbeats?{urlencode({'origin': origin})}")
    assert status == 200 and body["heartbeats"] == [] and body["total"] == 0
    status, body = await t.as_(t.acme, "GET", f"/heartbeats?{urlencode({'origin': origin})}")
    assert [h["id"] for h in body["heartbeats"]] == [ident]
    assert_error(*(await t.as_(t.globex, "DELETE", f"/heartbeat/{ident}")), 404)
    assert (await t.as_(None, "GET", f"/heartbeat/{ident}"))[0] == 200
    assert (await t.as_(t.acme, "DELETE", f"/heartbeat/{ident}"))[0] == 200


async def test_two_customers_heartbeats_of_one_origin_are_two_heartbeats(tenants: Tenants) -> None:
    """A heartbeat is keyed by origin and customer, as in Alerta: each customer upserts its own."""
    t = tenants
    origin = unique("origin")
    ids: dict[str, str] = {}
    for customer in (t.acme, t.globex, t.acme, t.globex):
        status, body = await t.as_(customer, "POST", "/heartbeat", {"origin": origin, "tags": [customer]})
        assert status == 201 and body["heartbeat"]["customer"] == customer, body
        assert ids.setdefault(customer, body["id"]) == body["id"]  # the second one of each upserted its own
    assert ids[t.acme] != ids[t.globex]
    query = f"/heartbeats?{urlencode({'origin': origin})}"
    status, body = await t.as_(None, "GET", query)  # the admin key sees both
    assert status == 200 and body["total"] == 2, body
    assert {h["id"]: (h["customer"], h["tags"]) for h in body["heartbeats"]} == {
        ids[t.acme]: (t.acme, [t.acme]), ids[t.globex]: (t.globex, [t.globex])}
    for customer in (t.acme, t.globex):
        status, body = await t.as_(customer, "GET", query)
        assert status == 200 and [(h["id"], h["customer"]) for h in body["heartbeats"]] == [(ids[customer], customer)]
    assert (await t.as_(t.acme, "DELETE", f"/heartbeat/{ids[t.acme]}"))[0] == 200
    status, body = await t.as_(t.globex, "GET", f"/heartbeat/{ids[t.globex]}")  # the other customer's is kept
    assert status == 200 and body["heartbeat"]["origin"] == origin
    assert (await t.as_(None, "DELETE", f"/heartbeat/{ids[t.globex]}"))[0] == 200


async def test_blackouts_are_the_creators_customers(tenants: Tenants) -> None:
    t = tenants
    status, body = await t.as_(t.acme, "POST", "/blackout", {"environment": "Production", "resource": unique()})
    assert status == 201 and body["blackout"]["customer"] == t.acme, body
    ident = body["id"]
    status, reply = await t.as_(t.acme, "POST", "/blackout", {"environment": "Production", "customer": t.globex})
    assert_error(status, reply, 400, "not allowed to set customer")
    assert_error(*(await t.as_(t.globex, "GET", f"/blackout/{ident}")), 404)
    assert_error(*(await t.as_(t.globex, "PUT", f"/blackout/{ident}", {"text": "mine now"})), 404)
    assert_error(*(await t.as_(t.globex, "DELETE", f"/blackout/{ident}")), 404)
    status, body = await t.as_(t.globex, "GET", "/blackouts")
    assert status == 200 and ident not in {b["id"] for b in body["blackouts"]}
    status, body = await t.as_(t.acme, "GET", "/blackouts")
    assert ident in {b["id"] for b in body["blackouts"]} and {b["customer"] for b in body["blackouts"]} == {t.acme}
    status, body = await t.as_(None, "GET", "/blackouts")
    assert ident in {b["id"] for b in body["blackouts"]}
    status, body = await t.as_(t.acme, "GET", f"/blackout/{ident}")
    status, reply = await t.as_(t.acme, "POST", "/alert", alert(body["blackout"]["resource"]))
    assert status == 202 and reply["message"] == "Suppressed alert during blackout period", reply
    status, reply = await t.as_(t.globex, "POST", "/alert", alert(body["blackout"]["resource"]))
    assert status == 201, reply  # another customer's blackout does not cover it
    assert (await t.as_(t.acme, "DELETE", f"/blackout/{ident}"))[0] == 200
