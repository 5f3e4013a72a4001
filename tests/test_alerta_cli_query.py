"""The real ``alerta`` command-line client (PyPI ``alerta`` 8.5.3) reads from a running alertbus: ``query``,
``history``, ``heartbeats``, ``alerts``, ``status``, ``top`` (a curses screen, run on a pseudo-terminal), and
the counts its bulk commands ask for (8.5.3 has no ``count`` command: ``ack``, ``close`` … call
``Client.get_count``, i.e. ``GET /alerts/count``, which is exercised here through the client library)."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import select
import struct
import termios
import time
import uuid
from typing import Any

from alertaclient.api import Client

from .alerta_cli import ALERTA, alerta
from .support import ADMIN_KEY, Stack, alert


def short() -> str:
    return f"c{uuid.uuid4().hex[:9]}"  # fits the client's 12-character resource column


async def post(stack: Stack, resource: str, **fields: Any) -> str:
    status, body = await stack.post_alert(alert(resource, **fields))
    assert status == 201, body
    return str(body["id"])


async def test_alerta_query_lists_by_filter_and_id(stack: Stack, cli_env: dict[str, str]) -> None:
    resource = short()
    alert_id = await post(stack, resource, severity="minor")
    await post(stack, resource, event="DiskFull", severity="critical")
    table = await alerta(cli_env, "query", "--filter", f"resource={resource}")
    rows = [line for line in table.splitlines() if resource in line]
    assert len(rows) == 2 and "DiskFull" in rows[0] and "NodeDown" in rows[1]  # newest first
    assert alert_id[:8] in table
    listed = json.loads(await alerta(cli_env, "--json", "query", "--filter", f"resource={resource}",
                                     "--filter", "severity=minor"))
    assert [item["id"] for item in listed] == [alert_id]
    by_id = await alerta(cli_env, "query", "--ids", alert_id[:8], "--medium")
    assert resource in by_id and "DiskFull" not in by_id


async def test_alerta_history_shows_each_change(stack: Stack, cli_env: dict[str, str]) -> None:
    resource = short()
    await post(stack, resource, severity="minor")
    await post(stack, resource, severity="major")
    table = await alerta(cli_env, "history", "--filter", f"resource={resource}")
    rows = [line for line in table.splitlines() if resource in line]
    assert len(rows) == 2 and "severity" in rows[0] and "new" in rows[1]  # newest first
    assert "major" in rows[0] and "minor" in rows[1]


async def test_alerta_heartbeats_lists_computed_status(stack: Stack, cli_env: dict[str, str]) -> None:
    origin = f"cli-{uuid.uuid4().hex[:8]}"
    status, _ = await stack.request("POST", "/heartbeat", {"origin": origin, "timeout": 300, "tags": ["cli"]})
    assert status == 201
    table = await alerta(cli_env, "heartbeats")
    row = next(line for line in table.splitlines() if origin in line)
    assert " ok" in row and "300s" in row
    listed = json.loads(await alerta(cli_env, "--json", "heartbeats"))
    assert any(item["origin"] == origin and item["status"] == "ok" for item in listed)


async def test_alerta_alerts_lists_environments_services_groups_tags(stack: Stack, cli_env: dict[str, str]) -> None:
    resource = short()
    await post(stack, resource, service=["CliSvc"], group="CliGroup", tags=["cli-tag"])
    assert "Production" in await alerta(cli_env, "alerts", "--environments")
    assert "CliSvc" in await alerta(cli_env, "alerts", "--services")
    assert "CliGroup" in await alerta(cli_env, "alerts", "--groups")
    assert "cli-tag" in await alerta(cli_env, "alerts", "--tags")


def status_rows(table: str) -> dict[str, list[str]]:
    """``alerta status``'s table by metric name (``group.name``): title, type, name, value and, for timers, the
    average milliseconds."""
    lines = table.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["METRIC", "TYPE", "NAME", "VALUE", "AVERAGE"], lines[:2]
    assert set(lines[1]) <= {"-", " "}
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[2:] if line.strip()]
    return {row[2]: row for row in rows}


async def test_alerta_status_prints_the_counters_and_timers_of_management_status(
        stack: Stack, cli_env: dict[str, str]) -> None:
    await post(stack, short())
    served = {f"{m['group']}.{m['name']}": m for m in stack.metrics.status_list()}  # what the gateway answers
    rows = status_rows(await alerta(cli_env, "status"))
    created = served["alerts_received.created"]
    assert created["count"] >= 1
    assert rows["alerts_received.created"] == [created["title"], "counter", "alerts_received.created",
                                               str(created["count"])]
    title, kind, _, count, average = rows["http_request_seconds./alert.gateway"]
    assert (title, kind) == (served["http_request_seconds./alert.gateway"]["title"], "timer")
    assert int(count) >= 1 and float(average) >= 0  # the client divides the total time by the count


async def test_alerta_client_counts_and_top10(stack: Stack) -> None:
    resource = short()
    await post(stack, resource, severity="minor")
    await post(stack, resource, event="DiskFull", severity="critical")
    client = Client(endpoint=stack.url, key=ADMIN_KEY)
    total, severities, statuses = await asyncio.to_thread(client.get_count, [("resource", resource)])
    assert (total, severities, statuses) == (2, {"minor": 1, "critical": 1}, {"open": 2})
    top = await asyncio.to_thread(client.get_top10_count, [("resource", resource)])
    assert sorted(row["event"] for row in top) == ["DiskFull", "NodeDown"]
    assert await asyncio.to_thread(client.get_top10_flapping, [("resource", resource)]) == []


def read_screen(master: int, marker: bytes, seconds: float) -> bytes:
    """What the client drew on the terminal until ``marker`` appeared (or time ran out)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while marker not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    return seen


async def test_alerta_top_shows_the_newest_alerts(stack: Stack, cli_env: dict[str, str]) -> None:
    resource = short()
    await post(stack, resource, severity="critical")
    master, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = await asyncio.create_subprocess_exec(
        ALERTA, "top", env={**cli_env, "TERM": "xterm"}, stdin=terminal, stdout=terminal, stderr=terminal,
    )
    os.close(terminal)
    try:
        screen = await asyncio.to_thread(read_screen, master, b"Count:", 30)  # the footer is drawn last
        os.write(master, b"q")  # the client quits on q
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(master)
    assert resource.encode() in screen and b"Crit" in screen and b"Count:" in screen


async def test_alerta_query_takes_alertas_query_syntax(stack: Stack, cli_env: dict[str, str]) -> None:
    """``alerta query -q`` sends its text as ``q``: Alerta's query-string syntax, not a JSON document."""
    event = f"Ev{uuid.uuid4().hex[:8]}"
    alert_id = await post(stack, "web01", event=event, severity="minor")
    table = await alerta(cli_env, "query", "-q", "resource:web01")
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["ID", "LAST", "RECEIVED"], lines[:2]
    rows = [line for line in lines[2:] if line.strip()]
    assert any(event in row and alert_id[:8] in row for row in rows), table
    assert all("web01" in row for row in rows), table  # a word: anywhere in the resource
    resource = short()
    minor = await post(stack, resource, severity="minor")
    await post(stack, resource, event="DiskFull", severity="critical")
    listed = json.loads(await alerta(cli_env, "--json", "query", "-q", f'resource:{resource} AND severity:"minor"'))
    assert [item["id"] for item in listed] == [minor]
    listed = json.loads(await alerta(cli_env, "--json", "query", "-q", f"resource:{resource} NOT event:DiskFull"))
    assert [item["id"] for item in listed] == [minor]


async def test_alerta_query_shows_the_400_of_an_unknown_field(stack: Stack, cli_env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        ALERTA, "query", "-q", "colour:red", env=cli_env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode != 0
    assert "unknown field 'colour'" in err.decode() + out.decode(), (out, err)
