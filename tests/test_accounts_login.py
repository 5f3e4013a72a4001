"""Users with a login through the real stack: log in, use the token on any route, bad and expired tokens, the
per-login lockout, sign-up off and on, the bootstrap admin of ADMIN_USERS / ADMIN_PASSWORD / ADMIN_KEY."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest_asyncio

from services.gateway.keys import USERS
from services.gateway.login import bootstrap_admins
from shared.tokens import Tokens, signing_key

from .support import SERVICE_SECRET, Stack, alert, assert_error, start_stack, unique

BOSS, BOSS_PASSWORD = "boss@example.com", "correct horse battery staple"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_user(stack: Stack, *roles: str, **extra: Any) -> dict[str, Any]:
    login = f"{unique('u')}@example.com"
    body = {"name": "Test User", "email": login, "password": "pw-" + login, "roles": list(roles), **extra}
    status, answer = await stack.request("POST", "/user", body)
    assert status == 201, answer
    return {**answer["user"], "password": body["password"]}


async def log_in(stack: Stack, username: str, password: str) -> str:
    status, body = await stack.request("POST", "/auth/login", {"username": username, "password": password},
                                       auth=False)
    assert status == 200, body
    return str(body["token"])


@pytest_asyncio.fixture(scope="module")
async def boot(store_url: str) -> AsyncIterator[Stack]:
    """A stack of its own: a bootstrap admin user, sign-up on, 3 failed logins per 3 s."""
    async with start_stack(store_url, ADMIN_USERS=f"{BOSS},second@example.com", ADMIN_PASSWORD=BOSS_PASSWORD,
                           SIGNUP_ENABLED="true", LOGIN_MAX_FAILURES=3, LOGIN_FAILURE_WINDOW=3) as s:
        yield s


async def test_login_answers_a_token_with_alertas_claims(stack: Stack) -> None:
    user = await make_user(stack, "user")
    token = await log_in(stack, user["email"], user["password"])
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == user["id"] and claims["preferred_username"] == user["login"] == user["email"]
    assert claims["name"] == "Test User" and claims["email"] == user["email"] and claims["roles"] == ["user"]
    assert claims["scope"] == "read write" and claims["customers"] == [] and claims["provider"] == "basic"
    assert claims["exp"] - claims["iat"] == 14 * 86400 and claims["typ"] == "Bearer"
    status, body = await stack.request("POST", "/auth/login", {"email": user["email"], "password": user["password"]},
                                       auth=False)
    assert status == 200 and body["token"]
    status, me = await stack.request("GET", "/user/me", auth=False, headers=bearer(token))
    assert status == 200 and me["user"]["lastLogin"] is not None and "password" not in me["user"]


async def test_bearer_token_works_on_every_route_family(stack: Stack) -> None:
    user = await make_user(stack, "user")
    token = await log_in(stack, user["email"], user["password"])
    status, body = await stack.post_alert(alert(unique()), auth=False, headers=bearer(token))
    assert status == 201 and body["alert"]["history"][0]["user"] == user["login"]
    assert (await stack.request("GET", f"/alert/{body['id']}", auth=False, headers=bearer(token)))[0] == 200
    assert (await stack.request("GET", "/api/alerts", auth=False, headers=bearer(token)))[0] == 200
    assert (await stack.request("POST", "/heartbeat", {"origin": unique("hb")}, auth=False,
                                headers=bearer(token)))[0] == 201
    status, info = await stack.request("GET", "/userinfo", auth=False, headers=bearer(token))
    assert status == 200 and info["preferred_username"] == user["login"] and info["scope"] == "read write"
    status, body = await stack.request("GET", "/keys", auth=False, headers=bearer(token))
    assert_error(status, body, 403, "admin:keys")  # role user: read and write, not admin


async def test_bad_and_expired_tokens_are_401(stack: Stack) -> None:
    user = await make_user(stack, "user")
    doc = {"_id": user["id"], "login": user["login"], "name": "x", "roles": ["user"]}
    good_key = signing_key("", SERVICE_SECRET)
    expired = Tokens(good_key, 1).issue(doc, ["read"], [], stack.url, now=datetime.now(UTC) - timedelta(days=2))
    forged = Tokens(signing_key("another secret", ""), 1).issue(doc, ["admin"], [], stack.url)
    elsewhere = Tokens(good_key, 1).issue(doc, ["read"], [], "http://another.example.com")
    unsigned = jwt.encode({"sub": "x", "preferred_username": "x", "scope": "admin"}, key=None, algorithm="none")
    cases = [(expired, "expired"), (forged, "invalid"), (elsewhere, "audience"), (unsigned, "invalid"),
             ("not.a.token", "invalid"), ("\u00e9\u00e9", "invalid"), ("", "Bearer")]
    for token, word in cases:
        status, body = await stack.request("GET", "/alerts", auth=False, headers=bearer(token))
        assert_error(status, body, 401, word)
    assert (await stack.request("GET", "/alerts", auth=False, headers=bearer(Tokens(good_key, 1).issue(
        doc, ["read"], [], stack.url))))[0] == 200


async def test_wrong_password_and_inactive_user_cannot_log_in(stack: Stack) -> None:
    user = await make_user(stack, "user")
    for creds in ({"username": user["login"], "password": "wrong"},
                  {"username": "nobody@example.com", "password": "x"}):
        status, answer = await stack.request("POST", "/auth/login", creds, auth=False)
        assert_error(status, answer, 401, "Invalid username or password")
    status, answer = await stack.request("POST", "/auth/login", {"username": user["login"]}, auth=False)
    assert_error(status, answer, 401, "must supply 'username' and 'password'")
    bad: list[Any] = [{"username": ["x"], "password": "x"}, {"username": "x", "password": 5}, [1, 2],
                      {"username": "u" * 300, "password": "x"}, {"username": "x", "password": "p" * 2000}]
    for body in bad:
        status, answer = await stack.request("POST", "/auth/login", body, auth=False)
        assert_error(status, answer, 400)
    assert (await stack.request("PUT", f"/user/{user['id']}", {"status": "inactive"}))[0] == 200
    status, answer = await stack.request("POST", "/auth/login", {"username": user["login"],
                                                                 "password": user["password"]}, auth=False)
    assert_error(status, answer, 403, "not active")


async def test_failed_logins_lock_that_login_for_the_window(boot: Stack) -> None:
    user = await make_user(boot, "user")
    wrong = {"username": user["login"], "password": "wrong"}
    for _ in range(3):
        assert (await boot.request("POST", "/auth/login", wrong, auth=False))[0] == 401
    async with boot.session.post(boot.url + "/auth/login", json={"username": user["email"],
                                                                 "password": user["password"]}) as resp:
        assert resp.status == 429 and 1 <= int(resp.headers["Retry-After"]) <= 3  # even the right password
    other = await make_user(boot, "user")
    assert await log_in(boot, other["login"], other["password"])  # another login is not locked
    await asyncio.sleep(3.2)
    assert await log_in(boot, user["login"], user["password"])  # the window has passed
    assert await boot.store.db["login_failures"].find_one({"_id": user["login"]}) is None  # a success clears it


async def test_signup_is_off_by_default_and_on_when_enabled(stack: Stack, boot: Stack) -> None:
    body = {"name": "New", "email": f"{unique('s')}@example.com", "password": "s3cret", "status": "active"}
    status, answer = await stack.request("POST", "/auth/signup", body, auth=False)
    assert_error(status, answer, 403, "signup is disabled")
    status, answer = await boot.request("POST", "/auth/signup", body, auth=False)
    assert status == 200, answer
    claims = jwt.decode(answer["token"], options={"verify_signature": False})
    assert claims["roles"] == ["user"] and claims["scope"] == "read write" and claims["email_verified"] is False
    status, answer = await boot.request("POST", "/auth/signup", body, auth=False)
    assert_error(status, answer, 409, "already exists")
    for hostile in ({**body, "email": "x\ud800@example.com"}, {**body, "name": "a\nb"}, {**body, "password": ""},
                    {**body, "attributes": {"a.b": 1}}, {**body, "roles": ["r"] * 100}, {"name": "no login"}):
        status, answer = await boot.request("POST", "/auth/signup", hostile, auth=False)
        assert_error(status, answer, 400)
    status, answer = await boot.request("POST", "/auth/signup", raw=b"[" * 5000 + b"]" * 5000, auth=False)
    assert_error(status, answer, 400, "nested")
    status, config = await boot.request("GET", "/config", auth=False)
    assert config["signup_enabled"] is True


async def test_bootstrap_admin_user_owns_the_admin_key_and_is_idempotent(boot: Stack) -> None:
    users = boot.store.db["user_accounts"]
    boss = await users.find_one({"login": BOSS})
    assert boss is not None and boss["email"] == BOSS and boss["name"] == BOSS and boss["roles"] == ["admin"]
    assert boss["status"] == "active" and boss["password"].startswith("$argon2")
    assert BOSS_PASSWORD not in repr(boss)
    token = await log_in(boot, BOSS, BOSS_PASSWORD)
    status, info = await boot.request("GET", "/userinfo", auth=False, headers=bearer(token))
    assert info["scope"] == "admin read write" and info["roles"] == ["admin"]
    status, info = await boot.request("GET", "/userinfo")  # the ADMIN_KEY is the first ADMIN_USERS login's
    assert status == 200 and info["preferred_username"] == BOSS and info["provider"] == "apikey"
    _, keys = await boot.request("GET", f"/keys?user={BOSS}")
    assert [k["prefix"] for k in keys["keys"]] == ["ADMIN_KEY"]
    app_users = boot.runners[-1].app[USERS]
    await asyncio.gather(*(bootstrap_admins(app_users, boot.settings) for _ in range(3)))  # restarts, processes
    assert await users.count_documents({"login": {"$in": [BOSS, "second@example.com"]}}) == 2
    again = await users.find_one({"login": BOSS})
    assert again is not None and again["_id"] == boss["_id"]


async def test_failed_logins_of_many_names_are_throttled_per_address(stack: Stack) -> None:
    names = [f"{unique('nobody')}@example.com" for _ in range(40)]
    statuses = []
    for name in names:  # each costs a password hash (tens of ms): the bucket refills a little meanwhile
        statuses.append((await stack.request("POST", "/auth/login", {"username": name, "password": "x"},
                                             auth=False))[0])
        if statuses[-1] == 429:
            break
    assert statuses[:20] == [401] * 20 and statuses[-1] == 429  # the key throttle's burst, then 1 a second
    doc = await stack.store.db["login_failures"].find_one({"_id": names[0]})
    assert doc is not None and doc["count"] == 1 and doc["expiresAt"] > doc["since"]  # goes when its window ends
