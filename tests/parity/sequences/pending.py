"""Sequences for what other branches bring (accounts, keys with Alerta's scopes, permissions, groups, customers).
Each is marked with the feature it needs and a probe path: while alertbus answers the probe with 404 the runner
skips it with a note, and it runs by itself once the feature is merged."""

from __future__ import annotations

from ..model import Sequence, Step, get

ACCOUNTS = ("accounts", "/scopes")
CUSTOMERS = ("customers", "/customers")

USERS = Sequence("accounts: users and login", (
    Step("create a user", "POST", "/user", {"name": "Parity User", "email": "parity.user@example.com",
                                            "password": "p4ssw0rd!", "roles": ["user"], "text": "parity"},
         save={"u1": "user.id"}),
    get("GET", "/user/{u1}", "read the user"),
    get("GET", "/users?email=parity.user@example.com", "find the user"),
    Step("the same e-mail again", "POST", "/user", {"name": "Again", "email": "parity.user@example.com",
                                                    "password": "p4ssw0rd!"}),
    Step("change the user", "PUT", "/user/{u1}", {"text": "changed"}),
    Step("log in", "POST", "/auth/login", {"username": "parity.user@example.com", "password": "p4ssw0rd!"},
         auth=False),
    Step("log in with a wrong password", "POST", "/auth/login",
         {"username": "parity.user@example.com", "password": "wrong"}, auth=False),
    Step("log in as the admin", "POST", "/auth/login", {"username": "admin@alerta.io", "password": "alerta"},
         auth=False),
    Step("delete the user", "DELETE", "/user/{u1}"),
    get("GET", "/user/{u1}", "read the deleted user"),
), *ACCOUNTS)

KEYS = Sequence("accounts: keys and scopes", (
    get("GET", "/scopes", "the scopes"),
    Step("create a key", "POST", "/key", {"user": "admin@alerta.io", "scopes": ["read:alerts", "write:alerts"],
                                          "text": "parity key"}, save={"k1": "key"}),
    get("GET", "/key/{k1}", "read the key"),
    Step("change the key", "PUT", "/key/{k1}", {"text": "changed", "scopes": ["read"]}),
    Step("a key with an unknown scope", "POST", "/key", {"scopes": ["bogus:scope"]}),
    Step("delete the key", "DELETE", "/key/{k1}"),
    get("GET", "/key/{k1}", "read the deleted key"),
), *ACCOUNTS)

PERMS = Sequence("accounts: permissions", (
    Step("create a permission", "POST", "/perm", {"match": "parity-role", "scopes": ["read", "write:alerts"]},
         save={"p1": "permission.id"}),
    get("GET", "/perms?match=parity-role", "list it"),
    Step("change it", "PUT", "/perm/{p1}", {"scopes": ["read"]}),
    Step("without a role", "POST", "/perm", {"scopes": ["read"]}),
    Step("delete it", "DELETE", "/perm/{p1}"),
), *ACCOUNTS)

GROUPS = Sequence("accounts: groups", (
    Step("create a user for the group", "POST", "/user", {"name": "Group Member", "email": "member@example.com",
                                                          "password": "p4ssw0rd!"}, save={"u2": "user.id"}),
    Step("create a group", "POST", "/group", {"name": "parity-group", "text": "parity"}, save={"g1": "group.id"}),
    get("GET", "/groups", "list groups"),
    Step("add the user", "PUT", "/group/{g1}/user/{u2}", {}),
    get("GET", "/group/{g1}/users", "its users"),
    get("GET", "/user/{u2}/groups", "the user's groups"),
    Step("remove the user", "DELETE", "/group/{g1}/user/{u2}"),
    Step("delete the group", "DELETE", "/group/{g1}"),
    Step("delete the user", "DELETE", "/user/{u2}"),
), *ACCOUNTS)

CUSTOMER = Sequence("customers", (
    Step("create a customer", "POST", "/customer", {"customer": "Parity Ltd", "match": "parity.example.com"},
         save={"cu1": "customer.id"}),
    get("GET", "/customer/{cu1}", "read it"),
    get("GET", "/customers", "list them"),
    Step("change it", "PUT", "/customer/{cu1}", {"match": "parity.example.org"}),
    Step("the same match again", "POST", "/customer", {"customer": "Other", "match": "parity.example.org"}),
    Step("without a match", "POST", "/customer", {"customer": "Nameless"}),
    Step("delete it", "DELETE", "/customer/{cu1}"),
    get("GET", "/customer/{cu1}", "read the deleted one"),
), *CUSTOMERS)

PENDING = [USERS, KEYS, PERMS, GROUPS, CUSTOMER]
