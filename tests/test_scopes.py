"""Alerta's scope rules, pure: what a set of scopes grants, what a role is worth, what a key's type is."""

from __future__ import annotations

import pytest

from shared.auth import Principal
from shared.scopes import SCOPES, allows, key_type, role_scopes, within


@pytest.mark.parametrize(("have", "want"), [
    ({"admin"}, "admin:keys"), ({"admin"}, "read:alerts"), ({"admin"}, "delete:alerts"), ({"admin"}, "write"),
    ({"write"}, "write:alerts"), ({"write"}, "read:heartbeats"), ({"write"}, "read"), ({"write"}, "delete:alerts"),
    ({"read"}, "read:blackouts"), ({"write:alerts"}, "read:alerts"), ({"admin:alerts"}, "write:alerts"),
    ({"admin:alerts"}, "read:alerts"), ({"admin:keys"}, "write:keys"), ({"write:alerts"}, "delete:alerts"),
    ({"read:userinfo"}, "read:userinfo"),
])
def test_scope_is_granted(have: set[str], want: str) -> None:
    assert allows(have, want)
    assert Principal("u", frozenset(have)).allows(want)


@pytest.mark.parametrize(("have", "want"), [
    ({"read"}, "write:alerts"), ({"read"}, "write"), ({"write"}, "admin:keys"), ({"write"}, "admin"),
    ({"write:alerts"}, "write:heartbeats"), ({"read:alerts"}, "write:alerts"), ({"write:keys"}, "admin:keys"),
    ({"admin:keys"}, "admin:users"), ({"admin:keys"}, "read:alerts"), (set(), "read"), ({"read:alerts"}, "read"),
])
def test_scope_is_refused(have: set[str], want: str) -> None:
    assert not allows(have, want)
    assert not Principal("u", frozenset(have)).allows(want)


def test_scope_list_is_alertas_and_every_fine_scope_has_a_rule() -> None:
    assert SCOPES[:3] == ("read", "write", "admin") and len(SCOPES) == len(set(SCOPES)) == 29
    for scope in SCOPES:
        assert allows({"admin"}, scope), scope
        action = scope.partition(":")[0]
        assert allows({action}, scope)


def test_nobody_hands_out_more_than_they_hold() -> None:
    assert within(["write:alerts", "read"], {"write"}) is None
    assert within(["write:alerts", "admin:keys"], {"write"}) == "admin:keys"
    assert within([], set()) is None


def test_key_type_follows_its_scopes() -> None:
    assert key_type(["read"]) == key_type(["read:alerts", "read:keys"]) == key_type([]) == "read-only"
    assert key_type(["read", "write:heartbeats"]) == key_type(["admin:keys"]) == "read-write"


def test_roles_give_their_scopes() -> None:
    perms = {"websys": ["admin:users", "write"], "ops-group": ["write:blackouts"]}
    assert role_scopes("bob", ["user"], perms) == ["read", "write"]
    assert role_scopes("bob", ["guest"], perms) == ["read:alerts"]
    assert role_scopes("bob", ["websys", "ops-group"], perms) == ["admin:users", "write", "write:blackouts"]
    assert role_scopes("bob", ["admin", "guest"], perms) == ["admin", "read", "write"]
    assert role_scopes("boss@example.com", [], perms, ["boss@example.com"]) == ["admin", "read", "write"]
    assert role_scopes("bob", ["nobody-knows"], perms) == []
