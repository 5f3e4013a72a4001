"""API keys and users: scopes on every route, hashed storage, expiry, revocation, aggregated usage."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from services.gateway.keys import KEYRING
from shared.auth import hash_key

from .support import Stack, alert, unique


async def make_key(stack: Stack, *scopes: str, **extra: object) -> tuple[str, dict[str, Any]]:
    status, body = await stack.request("POST", "/key", {"user": unique("user"), "scopes": list(scopes), **extra})
    assert status == 201, body
    return body["key"], body["data"]


def as_key(key: str) -> dict[str, str]:
    return {"Authorization": f"Key {key}"}


async def test_created_key_is_random_urlsafe_and_shown_once(stack: Stack) -> None:
    key, data = await make_key(stack, "read", text="ci")
    assert len(key) >= 32 and all(c.isalnum() or c in "-_" for c in key)
    assert data["key"] == key and data["scopes"] == ["read"] and data["text"] == "ci"
    status, listing = await stack.request("GET", "/keys")
    assert status == 200
    listed = next(k for k in listing["keys"] if k["id"] == data["id"])
    assert key not in listed["key"] and listed["prefix"] == key[:8]
    assert {"id", "user", "scopes", "text", "expireTime", "count", "lastUsedTime"} <= listed.keys()
    status, mine = await stack.request("GET", f"/keys/{data['user']}")
    assert status == 200 and [k["id"] for k in mine["keys"]] == [data["id"]]


async def test_keys_collection_holds_only_hashes(stack: Stack) -> None:
    key, data = await make_key(stack, "write")
    stored = await stack.store.db["keys"].find_one({"_id": data["id"]})
    assert stored is not None and stored["hash"] == hash_key(key)
    assert key not in repr(stored)
    async for doc in stack.store.db["keys"].find({}):
        assert key not in repr(doc)


async def test_scopes_are_enforced(stack: Stack) -> None:
    reader, _ = await make_key(stack, "read")
    writer, _ = await make_key(stack, "write")
    status, body = await stack.post_alert(alert(unique()), auth=False, headers=as_key(reader))
    assert status == 403 and "write" in body["message"]
    status, body = await stack.post_alert(alert(unique()), auth=False, headers=as_key(writer))
    assert status == 201
    alert_id = body["id"]
    assert (await stack.request("GET", f"/alert/{alert_id}", auth=False, headers=as_key(reader)))[0] == 200
    assert (await stack.request("GET", f"/alert/{alert_id}", auth=False, headers=as_key(writer)))[0] == 200
    status, body = await stack.request("PUT", f"/alert/{alert_id}/status", {"status": "ack"}, auth=False,
                                       headers=as_key(reader))
    assert status == 403
    for method, path in [("GET", "/keys"), ("POST", "/key"), ("GET", "/users"), ("POST", "/user")]:
        status, body = await stack.request(method, path, {"user": "x@example.com"}, auth=False,
                                           headers=as_key(writer))
        assert status == 403 and "admin" in body["message"], (method, path)
    assert (await stack.request("GET", "/management/gtg", auth=False))[0] == 200


async def test_unknown_scope_is_refused_and_only_a_key_admin_chooses_a_key(stack: Stack) -> None:
    status, body = await stack.request("POST", "/key", {"user": "u", "scopes": ["superuser"]})
    assert status == 400 and "scopes" in body["message"]
    writer, _ = await make_key(stack, "write")
    status, body = await stack.request("POST", "/key", {"user": "u", "key": unique("my-own-key")}, auth=False,
                                       headers=as_key(writer))
    assert status == 403 and "admin:keys" in body["message"]


async def test_expired_key_does_not_authenticate(stack: Stack) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    key, _ = await make_key(stack, "read", expireTime=soon)
    status, _ = await stack.request("GET", "/alert/x", auth=False, headers=as_key(key))
    assert status == 404  # authenticated: the alert simply does not exist
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    status, body = await stack.request("POST", "/key", {"user": "u", "expireTime": past})
    assert status == 400 and "expireTime" in body["message"]
    await asyncio.sleep(1.2)
    status, body = await stack.request("GET", "/alert/x", auth=False, headers=as_key(key))
    assert status == 401 and "expired" in body["message"]


async def test_deleted_key_no_longer_authenticates(stack: Stack) -> None:
    key, data = await make_key(stack, "read")
    assert (await stack.request("GET", "/alert/x", auth=False, headers=as_key(key)))[0] == 404
    assert await stack.request("DELETE", f"/key/{data['id']}") == (200, {"status": "ok"})
    assert (await stack.request("GET", "/alert/x", auth=False, headers=as_key(key)))[0] == 401
    other, _ = await make_key(stack, "read")
    assert await stack.request("DELETE", f"/key/{other}") == (200, {"status": "ok"})  # by the key itself
    assert (await stack.request("DELETE", f"/key/{other}"))[0] == 404


async def test_usage_is_counted_without_a_write_per_request(stack: Stack) -> None:
    key, data = await make_key(stack, "read")
    for _ in range(7):
        await stack.request("GET", "/alert/x", auth=False, headers=as_key(key))
    stored = await stack.store.db["keys"].find_one({"_id": data["id"]})
    assert stored is not None and stored["count"] == 0  # nothing written yet: counts are aggregated in memory
    gateway_app = stack.runners[-1].app
    await gateway_app[KEYRING].flush_usage()
    stored = await stack.store.db["keys"].find_one({"_id": data["id"]})
    assert stored is not None and stored["count"] == 7 and stored["lastUsedTime"] is not None


async def test_users_whitelist(stack: Stack) -> None:
    email = f"{unique('u')}@example.com"
    status, body = await stack.request("POST", "/user", {"user": email, "sponsor": "Ops"})
    assert status == 201 and body["user"]["user"] == email
    assert (await stack.request("POST", "/user", {"user": email, "sponsor": "Ops"}))[0] == 409
    status, body = await stack.request("POST", "/user", {"user": "not-an-email", "sponsor": "Ops"})
    assert status == 400 and "user" in body["message"]
    status, listing = await stack.request("GET", "/users")
    assert status == 200 and email in [u["user"] for u in listing["users"]]
    assert await stack.request("DELETE", f"/user/{email}") == (200, {"status": "ok"})
    assert (await stack.request("DELETE", f"/user/{email}"))[0] == 404
