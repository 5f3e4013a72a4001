"""The ``alerta`` 8.5.3 subcommands the other CLI tests leave out, each against the running stack: send, action,
shelve, unshelve, raw, heartbeat, housekeeping, uptime, version, config, watch and top (in a pseudo-terminal)."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import time
from datetime import timedelta

from .alerta_cli import ALERTA, alerta
from .support import Stack, alert, fetch, unique


async def test_alerta_send_creates_and_deduplicates(stack: Stack, cli_env: dict[str, str]) -> None:
    resource = unique("cli-send")
    args = ("send", "-r", resource, "-e", "NodeDown", "-E", "Production", "-S", "Web", "-s", "major", "-t", "down",
            "-T", "linux", "-A", "region=EU", "-v", "97")
    printed = (await alerta(cli_env, *args)).split()
    assert printed[1:] == ["(indeterminate", "->", "major)"]
    sent = await fetch(stack, printed[0])
    assert (sent["resource"], sent["severity"], sent["tags"], sent["attributes"]["region"], sent["value"]) == (
        resource, "major", ["linux"], "EU", "97")
    again = (await alerta(cli_env, *args)).split()
    assert again[0] == printed[0] and "1 duplicates" in " ".join(again)
    assert (await fetch(stack, printed[0]))["duplicateCount"] == 1


async def test_alerta_action_shelve_and_unshelve(stack: Stack, cli_env: dict[str, str]) -> None:
    status, body = await stack.post_alert(alert(unique("cli-shelve")))
    assert status == 201
    alert_id = body["id"]
    assert (await alerta(cli_env, "shelve", "-i", alert_id, "--timeout", "300")).strip() == "Shelving 1 alerts"
    shelved = await fetch(stack, alert_id)
    assert shelved["status"] == "shelved" and shelved["history"][-1]["timeout"] == 300
    assert (await alerta(cli_env, "unshelve", "-i", alert_id[:8])).strip() == "Un-shelving 1 alerts"
    assert (await fetch(stack, alert_id))["status"] == "open"
    printed = await alerta(cli_env, "action", "--action", "ack", "-i", alert_id, "--text", "by action")
    assert printed.strip() == "Action (ack) 1 alerts"
    acked = await fetch(stack, alert_id)
    assert (acked["status"], acked["history"][-1]["type"], acked["history"][-1]["text"]) == ("ack", "ack",
                                                                                             "by action")


async def test_alerta_raw_lists_the_alerts(stack: Stack, cli_env: dict[str, str]) -> None:
    """``alerta raw`` searches without ``show-raw-data``, so the raw data column is empty: Alerta 9.1 answers the
    same (``rawData`` is null in a list unless asked for), which is what the client shows against it too."""
    status, body = await stack.post_alert(alert(unique("cli-raw"), rawData="raw text"))
    assert status == 201
    table = (await alerta(cli_env, "raw", "-i", body["id"])).splitlines()
    assert table[0].split() == ["ID", "RAW", "DATA"] and table[2].split() == [body["id"]]
    status, page = await stack.request("GET", f"/alerts?id={body['id']}&show-raw-data=true")
    assert status == 200 and page["alerts"][0]["rawData"] == "raw text"


async def test_alerta_heartbeat_sends_one(stack: Stack, cli_env: dict[str, str]) -> None:
    origin = unique("cli/hb")
    heartbeat_id = (await alerta(cli_env, "heartbeat", "-O", origin, "-T", "cli", "--timeout", "60")).strip()
    status, body = await stack.request("GET", f"/heartbeat/{heartbeat_id}")
    assert status == 200
    beat = body["heartbeat"]
    assert (beat["origin"], beat["tags"], beat["timeout"], beat["status"]) == (origin, ["cli"], 60, "ok")


async def test_alerta_housekeeping_deletes_old_closed_alerts(stack: Stack, cli_env: dict[str, str]) -> None:
    status, closed = await stack.post_alert(alert(unique("cli-hk"), severity="normal"))
    assert status == 201 and closed["alert"]["status"] == "closed"
    doc = await stack.store.alerts.find_one({"_id": closed["id"]})
    assert doc is not None  # as if last received three hours ago: the only one old enough for --expired 2
    await stack.store.alerts.update_one({"_id": closed["id"]},
                                        {"$set": {"lastReceiveTime": doc["lastReceiveTime"] - timedelta(hours=3)}})
    assert await alerta(cli_env, "housekeeping", "--expired", "2", "--info", "12") == ""
    assert (await stack.request("GET", f"/alert/{closed['id']}"))[0] == 404


async def test_alerta_uptime_version_and_config(stack: Stack, cli_env: dict[str, str]) -> None:
    uptime = (await alerta(cli_env, "uptime")).split()
    assert uptime[1:3] == ["up", "0"] and uptime[3] == "days"
    version = (await alerta(cli_env, "version")).splitlines()
    assert version[0].startswith("alerta ") and version[1] == "alerta client 8.5.3"
    config = {key.strip(): value.strip() for key, _, value in
              (line.partition(":") for line in (await alerta(cli_env, "config")).splitlines())}
    assert (config["endpoint"], config["auth_required"]) == (stack.url, "True")


async def test_alerta_watch_shows_new_alerts(stack: Stack, cli_env: dict[str, str]) -> None:
    resource = unique("cli-watch")
    proc = await asyncio.create_subprocess_exec(
        ALERTA, "watch", "--interval", "1", "--filter", f"resource={resource}", env=cli_env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        await asyncio.sleep(1.5)
        status, body = await stack.post_alert(alert(resource, text="seen by watch"))
        assert status == 201
        seen = b""
        while b"seen by watch" not in seen:
            seen += await asyncio.wait_for(proc.stdout.read(4096), 20)
        assert body["id"][:8].encode() in seen
    finally:
        proc.terminate()
        await proc.wait()


def run_top(env: dict[str, str], seconds: float) -> bytes:
    """``alerta top`` in a pseudo-terminal (curses needs one) for ``seconds``, then ``q``; its screen output."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([ALERTA, "top"], env={**env, "TERM": "xterm", "COLUMNS": "160", "LINES": "40"},
                            stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if select.select([leader], [], [], 0.2)[0]:
                try:
                    screen += os.read(leader, 65536)
                except OSError:
                    break
        os.write(leader, b"q")
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    return screen


async def test_alerta_top_draws_the_alerts(stack: Stack, cli_env: dict[str, str]) -> None:
    resource = unique("cli-top")
    status, _ = await stack.post_alert(alert(resource, severity="critical"))
    assert status == 201
    screen = await asyncio.to_thread(run_top, cli_env, 4.0)
    assert resource.encode() in screen, screen[-2000:]
