"""The real ``alerta`` command-line client (PyPI ``alerta`` 8.5) acks, unacks, closes, tags, untags and deletes
alerts, and creates, lists and revokes keys against a running alertbus."""

from __future__ import annotations

from typing import Any

from .alerta_cli import alerta
from .support import Stack, alert, unique


async def fetch(stack: Stack, alert_id: str) -> dict[str, Any]:
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
