"""The real ``alerta`` client (PyPI ``alerta`` 8.5.3) creates, lists and deletes blackouts against alertbus, and
prints what it prints against Alerta 9.1: the new blackout's id, and the table (or the JSON) of ``blackouts``."""

from __future__ import annotations

import json
import uuid

from .alerta_cli import alerta
from .support import Stack, alert, unique

HEADER = ("ID", "P", "ENVIRONMENT", "SERVICE", "RESOURCE", "EVENT", "GROUP", "TAGS", "ORIGIN", "CUSTOMER", "START",
          "END", "DURATION", "STATUS", "REMAINING", "USER", "CREATED", "COMMENT")


async def test_alerta_client_manages_blackouts(stack: Stack, cli_env: dict[str, str]) -> None:
    resource = unique()
    printed = await alerta(cli_env, "blackout", "-E", "Production", "-r", resource, "-S", "Web", "-T", "eu",
                           "--duration", "600", "--text", "patching")
    ident = printed.strip()
    assert str(uuid.UUID(ident)) == ident  # the id alone, as against Alerta
    pending = (await alerta(cli_env, "blackout", "-E", "Production", "-r", resource,
                            "--start", "2030-01-01T00:00:00.000Z", "--duration", "60")).strip()
    status, body = await stack.post_alert(alert(resource, service=["Web", "Shop"], tags=["eu"]))
    assert status == 202, body

    table = (await alerta(cli_env, "blackouts")).splitlines()
    assert table[0].split() == list(HEADER)
    row = next(line for line in table if line.startswith(ident)).split()
    assert row[1:6] == ["2", "Production", "Web", resource, "eu"]  # as Alerta's table shows it
    assert "600s" in row and "active" in row and "admin" in row and row[-1] == "patching"
    later = next(line for line in table if line.startswith(pending)).split()
    assert "2030/01/01" in later and "pending" in later and "60s" in later

    listed = json.loads(await alerta(cli_env, "--output", "json", "blackouts"))
    mine = next(b for b in listed if b["id"] == ident)
    assert mine["resource"] == resource and mine["service"] == ["Web"] and mine["tags"] == ["eu"]
    assert mine["duration"] == 600 and mine["status"] == "active" and mine["text"] == "patching"

    for blackout in (ident, pending):
        await alerta(cli_env, "blackout", "--delete", blackout)
        assert (await stack.request("GET", f"/blackout/{blackout}"))[0] == 404
    status, body = await stack.post_alert(alert(resource, service=["Web"], tags=["eu"]))
    assert status == 201, body
