"""Keys as Alerta 9.1 has them, through the real stack: fine-grained scopes allowed and refused per route family,
``type``/``status``/``customer``, ``PUT /key``, a key imported by an admin (still stored only as a hash)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.auth import hash_key

from .support import Stack, alert, assert_error, unique
from .test_keys import as_key, make_key

# (method, path, body) per route family; {alert} and {hb} are filled in with existing ids.
ROUTES = {
    "post-alert": ("POST", "/alert", None),
    "read-alerts": ("GET", "/alerts", None),
    "tag-alert": ("PUT", "/alert/{alert}/tag", {"tags": ["x"]}),
    "post-heartbeat": ("POST", "/heartbeat", {"origin": "o"}),
    "read-heartbeats": ("GET", "/heartbeats", None),
    "read-heartbeat": ("GET", "/heartbeat/{hb}", None),
    "post-blackout": ("POST", "/blackout", {"environment": "Production", "resource": "never-sent"}),
    "read-blackouts": ("GET", "/blackouts", None),
    "read-keys": ("GET", "/keys", None),
    "read-users": ("GET", "/users", None),
    "read-groups": ("GET", "/groups", None),
    "read-perms": ("GET", "/perms", None),
    "post-group": ("POST", "/group", {"name": "g"}),
}


@pytest.mark.parametrize(("scope", "allowed"), [
    ("write:alerts", {"post-alert", "read-alerts", "tag-alert"}),
    ("read:alerts", {"read-alerts"}),
    ("write:heartbeats", {"post-heartbeat", "read-heartbeats", "read-heartbeat"}),
    ("read:blackouts", {"read-blackouts"}),
    ("write:blackouts", {"post-blackout", "read-blackouts"}),
    ("admin:keys", {"read-keys"}),
    ("admin:users", {"read-users"}),
    ("admin:groups", {"read-groups", "post-group"}),
    ("read", {"read-alerts", "read-heartbeats", "read-heartbeat", "read-blackouts", "read-groups", "read-perms"}),
])
async def test_fine_grained_key_scopes_per_route_family(stack: Stack, scope: str, allowed: set[str]) -> None:
    status, created = await stack.post_alert(alert(unique()))
    assert status == 201
    status, beat = await stack.request("POST", "/heartbeat", {"origin": unique("hb")})
    assert status == 201
    ids = {"alert": created["id"], "hb": beat["id"]}
    key, _ = await make_key(stack, scope)
    for family, (method, path, body) in ROUTES.items():
        if family == "post-alert":
            body = alert(unique())
        elif family == "post-group":
            body = {"name": unique("g")}
        status, answer = await stack.request(method, path.format(**ids), body, auth=False, headers=as_key(key))
        if family in allowed:
            assert status < 400, (scope, family, answer)
        else:
            assert_error(status, answer, 403, "missing required scope")


async def test_key_answers_carry_type_status_and_customer(stack: Stack) -> None:
    user = unique("keyuser")
    status, body = await stack.request("POST", "/key", {"user": user, "scopes": ["read:alerts"], "customer": "acme"})
    assert status == 201 and body["data"]["type"] == "read-only" and body["data"]["customer"] == "acme"
    status, body = await stack.request("POST", "/key", {"user": user, "type": "read-write"})
    assert status == 201 and body["data"]["scopes"] == ["read", "write"] and body["data"]["type"] == "read-write"
    assert body["data"]["status"] == "active"
    stored = await stack.store.db["keys"].find_one({"_id": body["data"]["id"]})
    assert stored is not None and stored["customer"] is None
    status, listing = await stack.request("GET", f"/keys?user={user}")
    assert status == 200 and listing["total"] == 2 and {k["user"] for k in listing["keys"]} == {user}
    _, acme = await stack.request("GET", "/keys?customer=acme")
    assert [k["user"] for k in acme["keys"] if k["user"] == user] == [user]
    status, one = await stack.request("GET", f"/key/{body['data']['id']}")
    assert status == 200 and one["key"]["id"] == body["data"]["id"] and one["key"]["key"].endswith("...")
    past = datetime.now(UTC) - timedelta(days=1)
    await stack.store.db["keys"].update_one({"_id": body["data"]["id"]}, {"$set": {"expireTime": past}})
    assert (await stack.request("GET", f"/key/{body['data']['id']}"))[1]["key"]["status"] == "expired"


async def test_update_key_changes_scopes_text_and_expiry_at_once(stack: Stack) -> None:
    key, data = await make_key(stack, "write:alerts", text="ops")
    assert (await stack.request("GET", "/heartbeats", auth=False, headers=as_key(key)))[0] == 403
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    change = {"scopes": ["write:alerts", "write:heartbeats"], "text": "updated", "expireTime": later,
              "customer": None}
    status, body = await stack.request("PUT", f"/key/{data['id']}", change)
    assert status == 200 and body["key"]["scopes"] == ["write:alerts", "write:heartbeats"]
    assert body["key"]["text"] == "updated" and body["key"]["expireTime"].startswith(later[:16])
    assert (await stack.request("GET", "/heartbeats", auth=False, headers=as_key(key)))[0] == 200  # no cache wait
    status, body = await stack.request("PUT", f"/key/{data['id']}", {"text": None, "scopes": None})
    assert_error(status, body, 400, "nothing to change")
    for hostile, field in [({"scopes": ["root"]}, "scopes"), ({"text": "\ud800"}, "text"),
                           ({"expireTime": "2001-01-01T00:00:00Z"}, "expireTime"), ({"customer": "a\nb"}, "customer")]:
        assert_error(*await stack.request("PUT", f"/key/{data['id']}", hostile), 400, field)
    assert_error(*await stack.request("PUT", "/key/no-such-key", {"text": "x"}), 404, "not found")
    _, keys = await stack.request("GET", "/keys?user=admin")
    bootstrap = next(k for k in keys["keys"] if k["prefix"] == "ADMIN_KEY")
    assert_error(*await stack.request("PUT", f"/key/{bootstrap['id']}", {"text": "x"}), 409, "ADMIN_KEY")


async def test_admin_imports_a_key_of_their_choosing(stack: Stack) -> None:
    chosen = unique("admin-key")
    body = {"user": "key@alerta.io", "scopes": ["admin"], "text": "Admin API Key", "key": chosen}
    status, answer = await stack.request("POST", "/key", body)
    assert status == 201 and answer["key"] == chosen and answer["data"]["key"] == chosen
    stored = await stack.store.db["keys"].find_one({"_id": answer["data"]["id"]})
    assert stored is not None and stored["hash"] == hash_key(chosen) and chosen not in repr(stored)
    assert (await stack.request("GET", "/keys", auth=False, headers=as_key(chosen)))[0] == 200
    assert_error(*await stack.request("POST", "/key", body), 409, "already exists")
    _, listing = await stack.request("GET", "/keys?user=key@alerta.io")
    assert all(chosen not in k["key"] for k in listing["keys"])
    for key, word in [("", "key"), ("a\nb", "key"), ("k" * 300, "key"), ("\ud800", "key")]:
        assert_error(*await stack.request("POST", "/key", {**body, "key": key}), 400, word)


async def test_a_key_admin_cannot_mint_a_stronger_key(stack: Stack) -> None:
    keymaster, _ = await make_key(stack, "admin:keys", "read")
    status, body = await stack.request("POST", "/key", {"user": "u", "scopes": ["admin"]}, auth=False,
                                       headers=as_key(keymaster))
    assert_error(status, body, 403, "Requested scope 'admin'")
    status, body = await stack.request("POST", "/key", {"user": "u", "scopes": ["read:alerts", "write:keys"]},
                                       auth=False, headers=as_key(keymaster))
    assert status == 201
