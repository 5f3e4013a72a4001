"""Scopes as Alerta 9.1 has them, and the rule that says whether the scopes one holds grant the one a route wants.

Pure: the gateway checks every route against this rule, the key and user routes check what a caller may hand out
(nobody grants a scope they do not hold), and logins turn roles into scopes here.
"""

from __future__ import annotations

from collections.abc import Iterable

# Alerta's Scope list, in its order (GET /scopes answers it as it is).
SCOPES: tuple[str, ...] = (
    "read", "write", "admin",
    "read:alerts", "write:alerts", "delete:alerts", "admin:alerts",
    "read:blackouts", "write:blackouts", "admin:blackouts",
    "read:heartbeats", "write:heartbeats", "admin:heartbeats",
    "write:users", "admin:users",
    "read:groups", "admin:groups",
    "read:perms", "admin:perms",
    "read:customers", "admin:customers",
    "read:keys", "write:keys", "admin:keys",
    "write:webhooks",
    "read:oembed",
    "read:management", "admin:management",
    "read:userinfo",
)
KNOWN = frozenset(SCOPES)
ADMIN_SCOPES = ("admin", "read", "write")  # what an admin role (or an ADMIN_USERS login) gets
USER_DEFAULT_SCOPES = ("read", "write")  # role "user" (Alerta's USER_DEFAULT_SCOPES); write includes read
GUEST_DEFAULT_SCOPES = ("read:alerts",)  # role "guest"
ADMIN_ROLE, USER_ROLE, GUEST_ROLE = "admin", "user", "guest"
SYSTEM_ROLES = {ADMIN_ROLE: ADMIN_SCOPES, USER_ROLE: USER_DEFAULT_SCOPES, GUEST_ROLE: GUEST_DEFAULT_SCOPES}


def allows(have: Iterable[str], want: str) -> bool:
    """Alerta's implication rule: ``want`` is held as such or by its action alone (``read:alerts`` by ``read``);
    a read is granted by the write of the same resource, a write by its admin, a delete by its write (Alerta
    with ``DELETE_SCOPES`` empty). So ``admin`` grants everything, ``write`` every write and read, ``admin:x``
    ``write:x`` and ``read:x``."""
    held = have if isinstance(have, (set, frozenset)) else frozenset(have)
    while want:
        action, _, resource = want.partition(":")
        if want in held or action in held:
            return True
        step = {"read": "write", "write": "admin", "delete": "write"}.get(action)
        if step is None:
            return False
        want = f"{step}:{resource}" if resource else step
    return True


def within(wanted: Iterable[str], have: Iterable[str]) -> str | None:
    """The first of ``wanted`` that ``have`` does not grant (None: all are granted): a caller may hand out only
    scopes it holds, to a key, a role or a user."""
    held = frozenset(have)
    return next((scope for scope in wanted if not allows(held, scope)), None)


def key_type(scopes: Iterable[str]) -> str:
    """Alerta's key ``type``: ``read-write`` as soon as one scope writes or administers, else ``read-only``."""
    return "read-write" if any(s.startswith(("write", "admin", "delete")) for s in scopes) else "read-only"


def role_scopes(login: str, roles: Iterable[str], perms: dict[str, list[str]],
                admin_users: Iterable[str] = ()) -> list[str]:
    """A login's scopes: admin for an ``ADMIN_USERS`` login or an ``admin`` role; else the union of what each
    role (and group name) is worth — the system roles' defaults and the stored permissions ``perms``
    (match → scopes). Sorted, as Alerta answers them."""
    roles = list(roles)
    if login in set(admin_users) or ADMIN_ROLE in roles:
        return sorted(ADMIN_SCOPES)
    scopes: set[str] = set()
    for role in roles:
        scopes.update(SYSTEM_ROLES.get(role, ()))
        scopes.update(perms.get(role, ()))
    return sorted(scopes)
