"""The real ``alerta`` command-line client (PyPI ``alerta`` 8.5) adds, lists and deletes notes and updates
attributes against a running alertbus, printing what it prints against Alerta 9.1."""

from __future__ import annotations

import asyncio
import json

from .alerta_cli import ALERTA, alerta
from .support import Stack, created, fetch

NOTES_HEADER = ["NOTE ID", "NOTE", "CREATED", "USER", "TYPE", "RELATED ID", "UPDATED", "CUSTOMER"]
EMPTY_HEADER = ["id", "text", "user", "type", "attributes", "createTime", "updateTime", "related", "customer"]


async def alerta_fails(env: dict[str, str], *args: str) -> str:
    """Run a client command that must fail; what it printed (stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(
        ALERTA, *args, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, (out, err)
    return out.decode() + err.decode()


async def test_alerta_note_notes_and_delete(stack: Stack, cli_env: dict[str, str]) -> None:
    alert_id = await created(stack)
    printed = await alerta(cli_env, "note", "-i", alert_id[:8], "--text", "hello from cli")
    assert printed.strip() == "Add note to 1 alerts"
    table = (await alerta(cli_env, "notes", "-i", alert_id)).splitlines()
    assert table[0].split() == "NOTE ID NOTE CREATED USER TYPE RELATED ID UPDATED CUSTOMER".split()
    assert all(title in table[0] for title in NOTES_HEADER) and set(table[1]) == {"-", " "}
    listed = json.loads(await alerta(cli_env, "--output", "json", "notes", "-i", alert_id))
    assert len(table) == 3 and len(listed) == 1
    note = listed[0]
    assert (note["text"], note["user"], note["type"], note["related"]) == ("hello from cli", "admin", "alert",
                                                                          {"alert": alert_id})
    row = table[2].split()
    assert row[0] == note["id"] and row[1:4] == ["hello", "from", "cli"]
    assert row[6:] == ["admin", "alert", alert_id]  # the date and time in between; no update time, no customer
    assert (await fetch(stack, alert_id))["history"][-1]["type"] == "note"
    assert await alerta(cli_env, "note", "-D", alert_id, note["id"]) == ""
    assert (await alerta(cli_env, "notes", "-i", alert_id)).splitlines()[0].split() == EMPTY_HEADER
    assert (await fetch(stack, alert_id))["history"][-1]["type"] == "dismiss"


async def test_alerta_update_merges_attributes(stack: Stack, cli_env: dict[str, str]) -> None:
    alert_id = await created(stack, attributes={"a": "1", "keep": "yes"})
    printed = await alerta(cli_env, "update", "-i", alert_id, "-A", "foo=bar", "-A", "a=2")
    assert printed.strip() == "Updating 1 alerts"
    assert (await fetch(stack, alert_id))["attributes"] == {"a": "2", "keep": "yes", "foo": "bar"}


async def test_alerta_reports_unknown_alerts(stack: Stack, cli_env: dict[str, str]) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert "Error: not found" in await alerta_fails(cli_env, "note", "-i", missing, "--text", "x")
    assert "Error: not found" in await alerta_fails(cli_env, "notes", "-i", missing)
    assert "Error: not found" in await alerta_fails(cli_env, "update", "-i", missing, "-A", "a=1")
    alert_id = await created(stack)
    assert "Error: must supply 'note' text" in await alerta_fails(cli_env, "note", "-i", alert_id)
    assert (await fetch(stack, alert_id))["history"][-1]["type"] == "new"
