"""The real ``alerta`` client (PyPI ``alerta`` 8.5.3) on users, logins, permissions, groups, scopes and keys:
``user``, ``users``, ``whoami``, ``perm``, ``perms``, ``group``, ``groups``, ``scopes``, ``signup``, ``key``,
``keys``, ``revoke``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest_asyncio

from .alerta_cli import alerta
from .support import ADMIN_KEY, Stack, start_stack, unique
from .test_accounts_login import log_in


@pytest_asyncio.fixture(scope="module")
async def open_stack(store_url: str) -> AsyncIterator[Stack]:
    """A stack with sign-up on (the session's has it off, as by default)."""
    async with start_stack(store_url, SIGNUP_ENABLED="true") as s:
        yield s


def client_env(stack: Stack, home: Path, key: str | None = ADMIN_KEY) -> dict[str, str]:
    """The client's environment: an empty config file, a HOME of its own (its ``.netrc`` holds a login token),
    and the API key unless ``key`` is None."""
    (home / "alerta.conf").write_text("[DEFAULT]\ntimezone = UTC\n")
    env = {name: value for name, value in os.environ.items()
           if name not in ("TERM", "PS1", "ALERTA_API_KEY", "ALERTA_ENDPOINT")}
    env.update(ALERTA_CONF_FILE=str(home / "alerta.conf"), ALERTA_ENDPOINT=stack.url, HOME=str(home))
    if key is not None:
        env["ALERTA_API_KEY"] = key
    return env


async def test_cli_creates_shows_updates_lists_and_deletes_users(open_stack: Stack, tmp_path: Path) -> None:
    env = client_env(open_stack, tmp_path)
    email = f"{unique('cli')}@example.com"
    user_id = (await alerta(env, "user", "--name", "Cli User", "--email", email, "--password", "pw-cli",
                            "--role", "user", "--text", "from the cli")).strip()
    shown = await alerta(env, "user", "-i", user_id)
    assert "Cli User" in shown and email in shown and "user" in shown
    assert (await alerta(env, "user", "-i", user_id, "--name", "Renamed")).strip() == user_id
    listing = await alerta(env, "users")
    assert "Renamed" in listing and email in listing and "admin" not in listing.split(email)[1].split("\n")[0]
    await alerta(env, "user", "-D", user_id)
    assert email not in await alerta(env, "users")


async def test_cli_perms_scopes_and_groups(open_stack: Stack, tmp_path: Path) -> None:
    env = client_env(open_stack, tmp_path)
    role = unique("cli-role")
    perm_id = (await alerta(env, "perm", "--role", role, "--scope", "write:alerts", "--scope", "read")).strip()
    perms = await alerta(env, "perms")
    assert role in perms and "write:alerts,read" in perms and perm_id in perms
    assert role in await alerta(env, "perms", "--scope", "write:alerts")
    assert role not in await alerta(env, "perms", "--scope", "admin:groups")
    scopes = await alerta(env, "scopes")
    assert "write:heartbeats" in scopes and "admin:perms" in scopes
    name = unique("cli-group")
    group_id = (await alerta(env, "group", "--name", name, "--text", "cli group")).strip()
    email = f"{unique('member')}@example.com"
    user_id = (await alerta(env, "user", "--name", "Member", "--email", email, "--password", "pw")).strip()
    await alerta(env, "group", "-i", group_id, "--user", user_id)
    assert email in await alerta(env, "group", "-i", group_id, "--users")
    assert email in await alerta(env, "users", "--role", "user") and email not in await alerta(env, "users", "--role",
                                                                                                  "guest")
    assert name in await alerta(env, "user", "-i", user_id, "--groups")
    groups = await alerta(env, "groups")
    assert name in groups and "cli group" in groups
    await alerta(env, "group", "-i", group_id, "-D", user_id)
    assert email not in await alerta(env, "group", "-i", group_id, "--users")
    await alerta(env, "group", "-D", group_id)
    assert name not in await alerta(env, "groups")
    await alerta(env, "perm", "-D", perm_id)
    assert role not in await alerta(env, "perms")


async def test_cli_signup_then_whoami_with_the_token(open_stack: Stack, tmp_path: Path) -> None:
    anonymous = client_env(open_stack, tmp_path, key=None)
    email = f"{unique('signup')}@example.com"
    assert (await alerta(anonymous, "signup", "--name", "Signed", "--email", email, "--password", "pw-s",
                         "--status", "active")).strip() == "Signed Up."
    token = await log_in(open_stack, email, "pw-s")
    port = urlsplit(open_stack.url).port
    (tmp_path / ".netrc").write_text(f"machine 127.0.0.1:{port}\n  login {email}\n  password {token}\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert (await alerta(anonymous, "whoami")).strip() == email
    info = await alerta(anonymous, "whoami", "--show-userinfo")
    assert "read write" in info and "basic" in info
    keyed = tmp_path / "keyed"
    keyed.mkdir()
    assert (await alerta(client_env(open_stack, keyed), "whoami")).strip() == "admin"  # with the ADMIN_KEY


async def test_cli_imports_lists_and_revokes_a_chosen_key(open_stack: Stack, tmp_path: Path) -> None:
    env = client_env(open_stack, tmp_path)
    chosen, user = unique("cli-key"), unique("cli-key-user")
    assert (await alerta(env, "key", "-K", chosen, "--username", user, "--scope", "write:alerts",
                         "--text", "imported")).strip() == chosen
    status, _ = await open_stack.request("GET", "/alerts", auth=False, headers={"X-API-Key": chosen})
    assert status == 200  # write:alerts includes read:alerts
    listing = await alerta(env, "keys")
    assert user in listing and "write:alerts" in listing and chosen not in listing
    await alerta(env, "revoke", "-K", chosen)
    status, _ = await open_stack.request("GET", "/alerts", auth=False, headers={"X-API-Key": chosen})
    assert status == 401
