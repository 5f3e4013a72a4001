"""The real ``alerta`` client's login session against alertbus: ``login`` (basic provider: the password read at its
prompt), ``token`` (plain and decoded), ``whoami`` and ``me`` with the stored token, ``logout``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .alerta_cli import ALERTA, alerta
from .support import Stack, unique
from .test_alerta_cli_accounts import client_env


async def alerta_with_input(env: dict[str, str], text: str, *args: str) -> str:
    """The client with ``text`` on its stdin (what ``alerta login`` reads at its password prompt without a tty)."""
    proc = await asyncio.create_subprocess_exec(ALERTA, *args, env=env, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(text.encode()), 60)
    assert proc.returncode == 0, f"alerta {' '.join(args)} failed: {err.decode()}{out.decode()}"
    return out.decode()


async def test_cli_login_token_whoami_me_and_logout(stack: Stack, tmp_path: Path) -> None:
    email, password = f"{unique('cli-login')}@example.com", "a cli password"
    status, body = await stack.request("POST", "/user", {"name": "Cli Login", "email": email, "password": password,
                                                         "roles": ["user"]})
    assert status == 201, body
    env = client_env(stack, tmp_path, key=None)  # no API key: the login token is the credential
    assert (await alerta_with_input(env, password + "\n", "login", email)).strip().endswith(f"Logged in as {email}")
    token = (await alerta(env, "token")).strip()
    assert token.count(".") == 2  # a JWT
    decoded = await alerta(env, "token", "--decode")
    assert "preferred_username" in decoded and email in decoded
    assert (await alerta(env, "whoami")).strip() == email
    assert (await alerta(env, "me", "--text", "changed by the cli")).strip() == body["id"]
    status, me = await stack.request("GET", f"/user/{body['id']}")
    assert status == 200 and me["user"]["text"] == "changed by the cli"
    assert (await alerta(env, "logout")).strip() == "Login credentials removed"
    assert "machine" not in (tmp_path / ".netrc").read_text()
