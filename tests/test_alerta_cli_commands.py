"""The real ``alerta`` command-line client (PyPI ``alerta`` 8.5) acks, unacks, closes, tags, untags and deletes
alerts, and creates, lists and revokes keys against a running alertbus."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from .conftest import ADMIN_KEY, Stack, alert, unique

ALERTA = str(Path(sys.executable).with_name("alerta"))


@pytest.fixture
def cli_env(stack: Stack, tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "alerta.conf"
    config.write_text("[DEFAULT]\n")
    env = {key: value for key, value in os.environ.items() if key not in ("TERM", "PS1")}
    env.update(ALERTA_CONF_FILE=str(config), ALERTA_ENDPOINT=stack.url, ALERTA_API_KEY=ADMIN_KEY)
    return env


async def alerta(env: dict[str, str], *args: str) -> str:
    """Run the client without blocking the event loop that serves it; stdin is /dev/null (see README)."""
    proc = await asyncio.create_subprocess_exec(
        ALERTA, *args, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, f"alerta {' '.join(args)} failed: {err.decode()}{out.decode()}"
    return out.decode()


async def fetch(stack: Stack, alert_id: str) -> dict:
    status, body = await stack.request("GET", f"/alert/{alert_id}")
    return body["alert"] if status == 200 else {}


async def test_alerta_client_acts_on_alerts(stack: Stack, cli_env: dict[str, str]) -> None:
    status, body = await stack.post_alert(alert(unique(), severity="major"))
    assert status == 201
    alert_id = body["id"]
    await alerta(cli_env, "ack", "-i", alert_id, "--text", "looking")
    doc = await fetch(stack, alert_id)
    assert doc["status"] == "ack" and doc["history"][-1]["text"] == "looking"
    await alerta(cli_env, "unack", "-i", alert_id[:8])
    assert (await fetch(stack, alert_id))["status"] == "open"
    await alerta(cli_env, "tag", "-i", alert_id, "-T", "db", "-T", "eu")
    assert (await fetch(stack, alert_id))["tags"] == ["db", "eu"]
    await alerta(cli_env, "untag", "-i", alert_id, "-T", "db")
    assert (await fetch(stack, alert_id))["tags"] == ["eu"]
    await alerta(cli_env, "close", "-i", alert_id)
    assert (await fetch(stack, alert_id))["status"] == "closed"
    await alerta(cli_env, "delete", "-i", alert_id)
    assert await fetch(stack, alert_id) == {}


async def test_alerta_client_manages_keys(stack: Stack, cli_env: dict[str, str]) -> None:
    user = unique("cli-user")
    key = (await alerta(cli_env, "key", "--username", user, "--scope", "read", "--text", "from the cli")).strip()
    assert len(key) >= 32
    status, _ = await stack.request("GET", "/alert/none", auth=False, headers={"X-API-Key": key})
    assert status == 404  # authenticated
    listing = await alerta(cli_env, "keys")
    assert user in listing and key not in listing
    await alerta(cli_env, "revoke", "--api-key", key)
    status, _ = await stack.request("GET", "/alert/none", auth=False, headers={"X-API-Key": key})
    assert status == 401
