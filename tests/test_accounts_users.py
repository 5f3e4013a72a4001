"""Users, permissions and groups through the real stack: CRUD as Alerta 9.1 answers it, the v3 white-list on the
same routes, roles and groups turned into scopes at login, and nobody handing out more than they hold."""

from __future__ import annotations

from typing import Any

import jwt

from .support import Stack, assert_error, unique
from .test_accounts_login import bearer, log_in, make_user

USER_FIELDS = {"id", "href", "name", "login", "email", "domain", "status", "roles", "attributes", "createTime",
               "lastLogin", "text", "updateTime", "email_verified"}


def scopes_of(token: str) -> list[str]:
    return str(jwt.decode(token, options={"verify_signature": False})["scope"]).split()


async def test_user_crud_as_alerta_answers_it(stack: Stack) -> None:
    login = f"{unique('crud')}@example.com"
    body = {"name": "Crud", "email": login, "password": "pw", "roles": ["user"], "text": "t",
            "attributes": {"team": "ops"}, "status": "active"}
    status, created = await stack.request("POST", "/user", body)
    assert status == 201 and created["status"] == "ok" and created["id"] == created["user"]["id"]
    user = created["user"]
    assert set(user) == USER_FIELDS and user["login"] == login and user["domain"] == "example.com"
    assert (user["status"], user["roles"], user["attributes"], user["lastLogin"]) == ("active", ["user"],
                                                                                      {"team": "ops"}, None)
    assert_error(*await stack.request("POST", "/user", body), 409, "already exists")
    status, got = await stack.request("GET", f"/user/{user['id']}")
    assert status == 200 and got["total"] == 1 and got["user"]["name"] == "Crud"
    change: dict[str, Any] = {"name": "Renamed", "email": None, "password": None, "status": None, "roles": [],
              "attributes": {"team": None, "site": "eu"}, "text": None, "email_verified": None}  # the client's PUT
    status, updated = await stack.request("PUT", f"/user/{user['id']}", change)
    assert status == 200 and updated["user"]["name"] == "Renamed" and updated["user"]["roles"] == ["user"]
    assert updated["user"]["attributes"] == {"site": "eu"}
    assert_error(*await stack.request("PUT", f"/user/{user['id']}", {}), 400, "nothing to change")
    status, listing = await stack.request("GET", "/users")
    assert status == 200 and {"users", "total", "page", "pageSize", "pages", "more", "domains"} <= set(listing)
    mine = next(u for u in listing["users"] if u["id"] == user["id"])
    assert mine["user"] == login and USER_FIELDS <= set(mine)
    assert await stack.request("DELETE", f"/user/{user['id']}") == (200, {"status": "ok"})
    assert_error(*await stack.request("GET", f"/user/{user['id']}"), 404, "not found")
    assert_error(*await stack.request("DELETE", f"/user/{user['id']}"), 404, "not found")


async def test_v3_white_list_and_users_share_the_routes(stack: Stack) -> None:
    email = f"{unique('v3')}@example.com"
    status, body = await stack.request("POST", "/user", {"user": email, "sponsor": "Ops"})
    assert status == 201 and body["user"] == {"user": email, "sponsor": "Ops", "createTime": body["user"]["createTime"]}
    user = await make_user(stack, "user")
    _, listing = await stack.request("GET", "/users?page-size=1000")
    by_user = {u["user"]: u for u in listing["users"]}
    assert by_user[email]["sponsor"] == "Ops" and by_user[user["login"]]["id"] == user["id"]
    ids = [u["id"] for u in listing["users"]]
    assert ids.index(user["id"]) < ids.index(email)  # users first, then the white-list
    assert await stack.request("DELETE", f"/user/{email}") == (200, {"status": "ok"})
    assert await stack.request("POST", f"/user/{user['id']}", {"_method": "delete"}) == (200, {"status": "ok"})


async def test_hostile_user_bodies_are_refused_by_name(stack: Stack) -> None:
    good = {"name": "H", "email": f"{unique('h')}@example.com", "password": "pw"}
    for body, field in [({**good, "name": "x\ud800"}, "name"), ({**good, "email": "a\ud800@example.com"}, "email"),
                        ({**good, "login": "a\nb"}, "login"), ({**good, "roles": ["r"] * 65}, "roles"),
                        ({**good, "password": "p" * 2000}, "password"), ({**good, "status": "sleepy"}, "status"),
                        ({**good, "attributes": {"$x": 1}}, "attributes"), ({**good, "text": "t" * 5000}, "text"),
                        ({"name": "no login", "password": "x"}, "login"), ({**good, "name": ""}, "name")]:
        status, answer = await stack.request("POST", "/user", body)
        assert_error(status, answer, 400, field)
    assert await stack.store.db["user_accounts"].count_documents({"email": good["email"]}) == 0
    user = await make_user(stack, "user")
    for body, field in [({"email": "nope"}, "email"), ({"roles": ["\ud800"]}, "roles"), ([1], "object")]:
        assert_error(*await stack.request("PUT", f"/user/{user['id']}", body), 400, field)


async def test_me_routes_change_only_what_a_user_may(stack: Stack) -> None:
    user = await make_user(stack, "user", attributes={"prefs": "dark"})
    token = await log_in(stack, user["login"], user["password"])
    status, body = await stack.request("GET", "/user/me/attributes", auth=False, headers=bearer(token))
    assert status == 200 and body["attributes"] == {"prefs": "dark"}
    status, body = await stack.request("PUT", "/user/me", {"name": "Me", "text": "hi"}, auth=False,
                                       headers=bearer(token))
    assert status == 200 and (body["user"]["name"], body["user"]["text"]) == ("Me", "hi")
    status, body = await stack.request("PUT", "/user/me", {"roles": ["admin"]}, auth=False, headers=bearer(token))
    assert_error(status, body, 400, "not allowed to update: roles")
    status, body = await stack.request("PUT", "/user/me/attributes", {"attributes": {"prefs": None, "tz": "UTC"}},
                                       auth=False, headers=bearer(token))
    assert status == 200
    assert (await stack.request("GET", "/user/me", auth=False, headers=bearer(token)))[1]["user"]["attributes"] == \
        {"tz": "UTC"}


async def test_roles_and_groups_become_scopes_at_login(stack: Stack) -> None:
    role = unique("websys")
    status, body = await stack.request("POST", "/perm", {"match": role, "scopes": ["admin:users", "admin:keys",
                                                                                  "write"]})
    assert status == 201 and body["permission"]["match"] == role
    perm_id = body["id"]
    user = await make_user(stack, role)
    token = await log_in(stack, user["login"], user["password"])
    assert sorted(scopes_of(token)) == ["admin:keys", "admin:users", "write"]
    assert (await stack.request("GET", "/keys", auth=False, headers=bearer(token)))[0] == 200
    assert (await stack.request("GET", "/perms", auth=False, headers=bearer(token)))[0] == 200  # write ⊇ read:perms
    assert_error(*await stack.request("POST", "/perm", {"match": unique("r")}, auth=False, headers=bearer(token)),
                 403, "admin:perms")
    status, _ = await stack.request("PUT", f"/perm/{perm_id}", {"scopes": ["read"]})
    assert status == 200
    assert scopes_of(await log_in(stack, user["login"], user["password"])) == ["read"]  # from the next login
    group_name = unique("oncall")
    await stack.request("POST", "/perm", {"match": group_name, "scopes": ["write:blackouts"]})
    status, group = await stack.request("POST", "/group", {"name": group_name, "text": "on call"})
    assert status == 201
    assert await stack.request("PUT", f"/group/{group['id']}/user/{user['id']}") == (200, {"status": "ok"})
    token = await log_in(stack, user["login"], user["password"])
    assert scopes_of(token) == ["read", "write:blackouts"]
    assert jwt.decode(token, options={"verify_signature": False})["groups"] == [group_name]
    assert await stack.request("DELETE", f"/perm/{perm_id}") == (200, {"status": "ok"})
    assert_error(*await stack.request("DELETE", f"/perm/{perm_id}"), 404, "not found")


async def test_perms_list_the_system_roles_and_refuse_them(stack: Stack) -> None:
    status, body = await stack.request("GET", "/perms")
    assert status == 200 and [p["match"] for p in body["permissions"][:3]] == ["admin", "user", "guest"]
    assert body["permissions"][1]["scopes"] == ["read", "write"]
    for match in ("admin", "user", "guest"):
        assert_error(*await stack.request("POST", "/perm", {"match": match, "scopes": ["read"]}), 409, "already")
    for body, field in [({"match": "r", "scopes": ["superuser"]}, "scopes"), ({"match": "a\ud800"}, "match"),
                        ({"scopes": ["read"]}, "match"), ({"match": "r", "scopes": ["read"] * 65}, "scopes")]:
        assert_error(*await stack.request("POST", "/perm", body), 400, field)
    status, body = await stack.request("GET", "/scopes")
    assert status == 200 and body["total"] == 29 and "write:heartbeats" in body["scopes"]


async def test_nobody_gives_a_role_or_user_more_than_they_hold(stack: Stack) -> None:
    manager_role = unique("usermgr")
    await stack.request("POST", "/perm", {"match": manager_role, "scopes": ["admin:users", "admin:perms", "read"]})
    manager = await make_user(stack, manager_role)
    token = await log_in(stack, manager["login"], manager["password"])
    body = {"name": "x", "email": f"{unique('x')}@example.com", "password": "pw", "roles": ["admin"]}
    assert_error(*await stack.request("POST", "/user", body, auth=False, headers=bearer(token)), 403,
                 "Requested scope")
    assert_error(*await stack.request("POST", "/perm", {"match": unique("r"), "scopes": ["write"]}, auth=False,
                                      headers=bearer(token)), 403, "Requested scope 'write'")
    status, _ = await stack.request("POST", "/user", {**body, "roles": ["guest"]}, auth=False, headers=bearer(token))
    assert status == 201


async def test_groups_crud_and_members(stack: Stack) -> None:
    status, group = await stack.request("POST", "/group", {"name": unique("g"), "text": "test group"})
    assert status == 201 and set(group["group"]) == {"id", "href", "name", "text", "count"}
    gid = group["id"]
    new_name = unique("renamed")
    status, body = await stack.request("PUT", f"/group/{gid}", {"name": new_name, "text": None})
    assert status == 200 and (body["group"]["name"], body["group"]["text"]) == (new_name, "test group")
    user = await make_user(stack, "user")
    assert_error(*await stack.request("PUT", f"/group/{gid}/user/nobody"), 400, "invalid user")
    assert_error(*await stack.request("PUT", f"/group/none/user/{user['id']}"), 404, "not found")
    await stack.request("PUT", f"/group/{gid}/user/{user['id']}")
    status, members = await stack.request("GET", f"/group/{gid}/users")
    assert status == 200 and [u["id"] for u in members["users"]] == [user["id"]] and members["total"] == 1
    status, mine = await stack.request("GET", f"/user/{user['id']}/groups")
    assert [g["id"] for g in mine["groups"]] == [gid] and mine["groups"][0]["count"] == 1
    _, listing = await stack.request("GET", "/groups?page-size=1000")
    assert gid in [g["id"] for g in listing["groups"]] and {"total", "pages", "more"} <= set(listing)
    assert await stack.request("DELETE", f"/group/{gid}/user/{user['id']}") == (200, {"status": "ok"})
    assert (await stack.request("GET", f"/group/{gid}"))[1]["group"]["count"] == 0
    assert_error(*await stack.request("POST", "/group", {"name": new_name}), 409, "exists")
    assert_error(*await stack.request("POST", "/group", {"text": "no name"}), 400, "name")
    assert_error(*await stack.request("POST", "/group", {"name": "x\ud800"}), 400, "name")
    assert await stack.request("DELETE", f"/group/{gid}") == (200, {"status": "ok"})
    assert_error(*await stack.request("GET", f"/group/{gid}"), 404, "not found")


async def test_user_listing_pages_like_alerta(stack: Stack) -> None:
    for _ in range(2):
        await make_user(stack, "user")
    _, first = await stack.request("GET", "/users?page-size=1")
    assert len(first["users"]) == 1 and first["more"] is True and first["pages"] == first["total"]
    status, body = await stack.request("GET", f"/users?page-size=1&page={first['pages'] + 1}")
    assert_error(status, body, 416, "page out of range")
    _, last = await stack.request("GET", f"/users?page-size=1&page={first['pages']}")
    assert last["more"] is False and len(last["users"]) == 1


async def test_users_and_perms_are_filtered_as_the_client_asks(stack: Stack) -> None:
    role = unique("filtered")
    await stack.request("POST", "/perm", {"match": role, "scopes": ["write:heartbeats"]})
    member = await make_user(stack, role)
    await stack.request("POST", "/user", {"user": f"{unique('v3')}@example.com"})
    _, body = await stack.request("GET", f"/users?roles={role}")
    assert [u["id"] for u in body["users"]] == [member["id"]] and body["total"] == 1
    _, body = await stack.request("GET", f"/users?role={role}&role=nobody&email={member['email']}")
    assert body["total"] == 1
    _, body = await stack.request("GET", "/users?role=nobody-has-it")
    assert body["users"] == [] and body["message"] == "not found"
    _, body = await stack.request("GET", "/perms?scopes=write:heartbeats")
    matches = [p["match"] for p in body["permissions"]]
    assert role in matches and "admin" not in matches
    _, body = await stack.request("GET", "/perms?scopes=read")
    assert {"admin", "user"} <= {p["match"] for p in body["permissions"]}
    assert_error(*await stack.request("GET", "/users?name=" + "x" * 300), 400, "name")


async def test_deeply_nested_account_bodies_are_400(stack: Stack) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    user = await make_user(stack, "user")
    for method, path in [("POST", "/auth/login"), ("POST", "/perm"), ("POST", "/group"),
                         ("PUT", "/key/x"), ("PUT", f"/user/{user['id']}"), ("PUT", "/user/me"), ("POST", "/user")]:
        status, body = await stack.request(method, path, raw=deep, headers={"Content-Type": "application/json"},
                                           auth=path != "/auth/login")
        assert_error(status, body, 400, "nested")
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(40):
        inner["a"] = {}
        inner = inner["a"]
    status, body = await stack.request("PUT", f"/user/{user['id']}/attributes", {"attributes": nested})
    assert_error(status, body, 400, "attributes")
