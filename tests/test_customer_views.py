"""CUSTOMER_VIEWS on a stack of its own: two customers' keys and the unbound admin key, through every route family.
A bound key sees only its customer's alerts, heartbeats, blackouts, keys and customer lookups (another customer's
is a 404 on the single routes and absent from lists, counts, top 10 and the aggregates), and its writes get its
customer (another one named is Alerta's 400); the admin key sees and may do everything."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import pytest

from shared.customers import NoCustomerMatch
from shared.store.customers import CustomerStore

from .support import Stack, alert, assert_error, unique
from .support.documents import seed, stored_alert
from .support.tenants import Tenants, make_key, post, two_alerts
from .support.webhooks import alertmanager, am_alert, pd_v3


async def test_a_bound_keys_alert_gets_its_customer(tenants: Tenants) -> None:
    t = tenants
    _, mine, theirs = await two_alerts(t)
    assert (mine["customer"], theirs["customer"]) == (t.acme, t.globex)
    assert mine["id"] != theirs["id"]
    again = await post(t, t.acme, alert(mine["resource"]))
    assert again["id"] == mine["id"] and again["duplicateCount"] == 1
    status, reply = await t.as_(t.acme, "POST", "/alert", alert(unique(), customer=t.globex))
    assert_error(status, reply, 400, f"not allowed to set customer to '{t.globex}'")
    named = await post(t, t.acme, alert(unique(), customer=t.acme))
    assert named["customer"] == t.acme
    chosen = await post(t, None, alert(unique(), customer=t.globex))  # the admin names any customer
    assert chosen["customer"] == t.globex


async def test_single_alert_and_notes_of_another_customer_are_404(tenants: Tenants) -> None:
    t = tenants
    _, mine, theirs = await two_alerts(t)
    assert (await t.as_(t.acme, "GET", f"/alert/{mine['id']}"))[0] == 200
    for path in (f"/alert/{theirs['id']}", f"/alert/{theirs['id'][:8]}", f"/alert/{theirs['id']}/notes"):
        status, reply = await t.as_(t.acme, "GET", path)
        assert_error(status, reply, 404, "not found")
    assert (await t.as_(None, "GET", f"/alert/{theirs['id']}"))[0] == 200


async def test_lists_counts_and_history_hold_only_the_callers_customer(tenants: Tenants) -> None:
    t = tenants
    resource, mine, theirs = await two_alerts(t)
    query = urlencode({"resource": resource})
    status, body = await t.as_(t.acme, "GET", f"/alerts?{query}")
    assert status == 200 and [a["id"] for a in body["alerts"]] == [mine["id"]] and body["total"] == 1
    assert body["severityCounts"] == {"major": 1}
    status, body = await t.as_(None, "GET", f"/alerts?{query}")
    assert {a["id"] for a in body["alerts"]} == {mine["id"], theirs["id"]} and body["total"] == 2
    status, body = await t.as_(t.globex, "GET", f"/alerts/count?{query}")
    assert status == 200 and body["total"] == 1 and body["severityCounts"] == {"major": 1}
    status, body = await t.as_(None, "GET", f"/alerts/count?{query}")
    assert body["total"] == 2
    status, body = await t.as_(t.acme, "GET", f"/alerts/history?{query}")
    assert status == 200 and {h["id"] for h in body["history"]} == {mine["id"]}
    # Unfiltered, the bound counts are exactly the customer's alerts (the counters are per key, not per customer).
    status, everything = await t.as_(t.acme, "GET", "/alerts?page-size=1000")
    status, counted = await t.as_(t.acme, "GET", "/alerts/count")
    assert {a["customer"] for a in everything["alerts"]} == {t.acme}
    assert counted["total"] == everything["total"] == len(everything["alerts"])
    status, counted = await t.as_(None, "GET", "/alerts/count")
    assert counted["total"] > everything["total"]


async def test_top10_and_aggregates_hold_only_the_callers_customer(tenants: Tenants) -> None:
    t = tenants
    service, tag, environment = unique("svc"), unique("tag"), "Production"
    await post(t, t.acme, alert(unique(), event=unique("EvA"), service=[service], tags=[tag]))
    other = unique("other")  # the filter applies to each service of an alert (Alerta unwinds them)
    await post(t, t.globex, alert(unique(), event=unique("EvG"), service=[service, other], tags=[tag]))
    await post(t, t.globex, alert(unique(), event=unique("EvG2"), service=[service, other], tags=[tag]))
    for path, name in (("/alerts/top10", "top10"), ("/alerts/topn/count", "top10")):
        status, body = await t.as_(t.acme, "GET", f"{path}?{urlencode({'service': service})}")
        assert status == 200 and len(body[name]) == 1 and body[name][0]["count"] == 1, body
        status, body = await t.as_(None, "GET", f"{path}?{urlencode({'service': service})}")
        assert len(body[name]) == 3
    status, body = await t.as_(t.acme, "GET", "/alerts/top10")  # unfiltered: the aggregate, not the counters
    assert status == 200 and body["top10"] and all(row["count"] >= 1 for row in body["top10"])
    status, all_mine = await t.as_(t.acme, "GET", "/alerts?page-size=1000")
    assert sum(row["count"] for row in body["top10"]) <= all_mine["total"]
    status, body = await t.as_(t.globex, "GET", f"/services?{urlencode({'service': service})}")
    assert status == 200 and [(s["service"], s["count"]) for s in body["services"]] == [(service, 2)]
    status, body = await t.as_(t.globex, "GET", f"/services?{urlencode({'service': service, 'customer': t.globex})}")
    assert status == 200 and [(s["service"], s["count"]) for s in body["services"]] == [(service, 2)]
    status, body = await t.as_(t.globex, "GET", f"/alerts/count?{urlencode({'service': service, 'customer': t.acme})}")
    assert status == 200 and body["total"] == 0  # naming another customer finds nothing
    status, body = await t.as_(t.acme, "GET", f"/alerts/tags?{urlencode({'tags': tag})}")
    assert status == 200 and [(row["tag"], row["count"]) for row in body["tags"]] == [(tag, 1)]
    status, body = await t.as_(t.acme, "GET", f"/environments?{urlencode({'service': service})}")
    assert status == 200 and [(e["environment"], e["count"]) for e in body["environments"]] == [(environment, 1)]


async def test_commands_on_another_customers_alert_are_404(tenants: Tenants) -> None:
    t = tenants
    _, mine, theirs = await two_alerts(t)
    attempts = [("PUT", "action", {"action": "ack"}), ("PUT", "status", {"status": "closed"}),
                ("PUT", "tag", {"tags": ["x"]}), ("PUT", "untag", {"tags": ["x"]}),
                ("PUT", "note", {"text": "hello"}), ("PUT", "attributes", {"attributes": {"a": "b"}})]
    for method, op, body in attempts:
        status, reply = await t.as_(t.acme, method, f"/alert/{theirs['id']}/{op}", body)
        assert_error(status, reply, 404, "not found")
        status, reply = await t.as_(t.acme, method, f"/alert/{mine['id']}/{op}", body)
        assert status in (200, 201), (op, reply)
    status, reply = await t.as_(t.acme, "DELETE", f"/alert/{theirs['id']}")
    assert_error(status, reply, 404, "not found")
    status, reply = await t.as_(t.acme, "POST", f"/alert/{theirs['id']}", {"_method": "delete"})
    assert_error(status, reply, 404)
    status, untouched = await t.as_(t.globex, "GET", f"/alert/{theirs['id']}")
    assert status == 200 and untouched["alert"]["status"] == "open" and untouched["alert"]["tags"] == []
    assert (await t.as_(t.acme, "DELETE", f"/alert/{mine['id']}"))[0] == 200
    assert (await t.as_(None, "DELETE", f"/alert/{theirs['id']}"))[0] == 200


async def test_a_bound_admin_key_lists_only_its_customers_keys_and_lookups(tenants: Tenants) -> None:
    t = tenants
    lookups = {}
    for name in (t.acme, t.globex):
        status, body = await t.as_(None, "POST", "/customer", {"customer": name, "match": f"{name}.example"})
        assert status == 201
        lookups[name] = body["id"]
    admin = await make_key(t.stack, t.acme, ["admin", "read", "write"])
    t.keys["acme-admin"] = admin
    status, body = await t.as_("acme-admin", "GET", "/keys")
    assert status == 200 and {k["customer"] for k in body["keys"]} == {t.acme} and len(body["keys"]) == 2
    status, body = await t.as_(None, "GET", "/keys")
    assert {t.acme, t.globex} <= {k["customer"] for k in body["keys"]}
    theirs = next(k for k in (await t.as_(None, "GET", "/keys"))[1]["keys"] if k["customer"] == t.globex)
    assert_error(*(await t.as_("acme-admin", "DELETE", f"/key/{theirs['id']}")), 404)
    assert (await t.as_(None, "GET", f"/keys/{theirs['user']}"))[1]["keys"][0]["id"] == theirs["id"]
    status, body = await t.as_(t.acme, "GET", "/customers")  # the read scope lists lookups, its own only
    assert status == 200 and [c["customer"] for c in body["customers"]] == [t.acme]
    assert_error(*(await t.as_(t.acme, "GET", f"/customer/{lookups[t.globex]}")), 404)
    assert (await t.as_(t.acme, "GET", f"/customer/{lookups[t.acme]}"))[0] == 200
    assert_error(*(await t.as_(t.acme, "DELETE", f"/customer/{lookups[t.acme]}")), 403)
    assert_error(*(await t.as_("acme-admin", "DELETE", f"/customer/{lookups[t.globex]}")), 404)
    status, body = await t.as_(None, "GET", "/customers")
    assert {t.acme, t.globex} <= {c["customer"] for c in body["customers"]}


async def test_webhooks_make_and_change_only_the_callers_customers_alerts(tenants: Tenants) -> None:
    t = tenants
    payload = alertmanager(am_alert(labels={"instance": unique()}))
    status, body = await t.as_(t.acme, "POST", "/webhooks/prometheus", payload)
    assert status == 201 and body["alert"]["customer"] == t.acme, body
    _, mine, theirs = await two_alerts(t)
    status, reply = await t.as_(t.acme, "POST", "/webhooks/pagerduty", pd_v3("incident.acknowledged", theirs["id"]))
    assert_error(status, reply, 404, "not found")
    assert (await t.as_(t.globex, "GET", f"/alert/{theirs['id']}"))[1]["alert"]["status"] == "open"
    status, _ = await t.as_(t.acme, "POST", "/webhooks/pagerduty", pd_v3("incident.acknowledged", mine["id"]))
    assert status == 200
    assert (await t.as_(t.acme, "GET", f"/alert/{mine['id']}"))[1]["alert"]["status"] == "ack"


async def test_a_users_customers_are_looked_up_in_the_store(tenants: Tenants) -> None:
    lookups = CustomerStore(tenants.stack.store)
    name = unique("Login")
    status, _ = await tenants.as_(None, "POST", "/customer", {"customer": name, "match": f"{name}.example"})
    assert status == 201
    assert await lookups.customers_of(f"bob@{name}.example", ["nobody"]) == {name}
    assert await lookups.customers_of("root@nowhere.example", [], admin=True) == frozenset()
    with pytest.raises(NoCustomerMatch):
        await lookups.customers_of("eve@nowhere.example", ["strangers"])


async def test_config_says_customer_views_are_on(tenants: Tenants) -> None:
    status, body = await tenants.as_(None, "GET", "/config")
    assert status == 200 and body["customer_views"] is True


async def test_without_customer_views_a_bound_key_sees_everything(stack: Stack) -> None:
    customer = unique("Initech")
    key = await make_key(stack, customer, ["read", "write"])
    headers = {"Authorization": f"Key {key}"}
    resource = unique()
    status, body = await stack.post_alert(alert(resource))  # the admin's, no customer
    assert status == 201 and body["alert"]["customer"] is None
    status, body = await stack.request("GET", f"/alert/{body['id']}", auth=False, headers=headers)
    assert status == 200
    status, body = await stack.post_alert(alert(resource, event="Other"), auth=False, headers=headers)
    assert status == 201 and body["alert"]["customer"] is None  # the key's customer is not applied when off


async def test_a_short_id_shared_by_two_customers_finds_each_its_own(tenants: Tenants) -> None:
    t = tenants
    prefix, resource = uuid.uuid4().hex[:8], unique()
    docs = [stored_alert("Production", resource, customer=name) for name in (t.acme, t.globex)]
    for doc in docs:
        doc["_id"] = prefix + str(uuid.uuid4())[8:]
    await seed(t.stack.store, docs)
    for name, doc in zip((t.acme, t.globex), docs, strict=True):
        for path in (f"/alert/{prefix}", f"/alert/{prefix}/notes"):
            status, body = await t.as_(name, "GET", path)
            assert status == 200, body
        assert (await t.as_(name, "GET", f"/alert/{prefix}"))[1]["alert"]["id"] == doc["_id"]
        status, body = await t.as_(name, "PUT", f"/alert/{prefix}/tag", {"tags": [name]})
        assert status == 200, body
        assert (await t.as_(None, "GET", f"/alert/{doc['_id']}"))[1]["alert"]["tags"] == [name]
