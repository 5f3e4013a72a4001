"""Every subcommand of the ``alerta`` 8.5.3 client is either run by a test against alertbus or listed here as out
of scope with a reason: a subcommand a new client version adds (or one nobody tested) fails this test."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from .alerta_cli import ALERTA
from .support import Stack

HERE = Path(__file__).parent
# subcommand -> the test file that runs it
TESTED = {
    "ack": "test_alerta_cli_commands.py", "unack": "test_alerta_cli_commands.py",
    "tag": "test_alerta_cli_commands.py", "untag": "test_alerta_cli_commands.py",
    "close": "test_alerta_cli_commands.py", "delete": "test_alerta_cli_commands.py",
    "key": "test_alerta_cli_commands.py", "keys": "test_alerta_cli_commands.py",
    "revoke": "test_alerta_cli_commands.py",
    "note": "test_alerta_cli_notes.py", "notes": "test_alerta_cli_notes.py", "update": "test_alerta_cli_notes.py",
    "query": "test_alerta_cli_query.py", "history": "test_alerta_cli_query.py",
    "heartbeats": "test_alerta_cli_query.py", "alerts": "test_alerta_cli_query.py",
    "status": "test_alerta_cli_query.py",
    "blackout": "test_alerta_cli_blackouts.py", "blackouts": "test_alerta_cli_blackouts.py",
    "send": "test_alerta_cli_more.py", "action": "test_alerta_cli_more.py", "shelve": "test_alerta_cli_more.py",
    "unshelve": "test_alerta_cli_more.py", "raw": "test_alerta_cli_more.py", "heartbeat": "test_alerta_cli_more.py",
    "housekeeping": "test_alerta_cli_more.py", "uptime": "test_alerta_cli_more.py",
    "version": "test_alerta_cli_more.py", "config": "test_alerta_cli_more.py", "watch": "test_alerta_cli_more.py",
    "top": "test_alerta_cli_more.py",
    "help": "test_alerta_cli_coverage.py",  # below: the listing this test reads
    "login": "test_alerta_cli_login.py", "logout": "test_alerta_cli_login.py", "token": "test_alerta_cli_login.py",
    "me": "test_alerta_cli_login.py",
    "signup": "test_alerta_cli_accounts.py", "whoami": "test_alerta_cli_accounts.py",
    "user": "test_alerta_cli_accounts.py", "users": "test_alerta_cli_accounts.py",
    "group": "test_alerta_cli_accounts.py", "groups": "test_alerta_cli_accounts.py",
    "perm": "test_alerta_cli_accounts.py", "perms": "test_alerta_cli_accounts.py",
    "scopes": "test_alerta_cli_accounts.py",
    "customer": "test_customers.py", "customers": "test_customers.py",
}

# subcommand -> why no test runs it against alertbus (none today: every subcommand is run)
OUT_OF_SCOPE: dict[str, str] = {}


def subcommands(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The commands ``alerta <args>`` lists under ``Commands:`` (``--help`` needs no server; ``help`` reads the
    server's /config first, as every command does)."""
    listing = subprocess.run([ALERTA, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             timeout=60, check=True, env=env).stdout
    commands = listing.split("Commands:", 1)[1]
    return {line.split()[0] for line in commands.splitlines() if line.strip()}


async def test_every_alerta_subcommand_is_tested_or_out_of_scope(stack: Stack, cli_env: dict[str, str]) -> None:
    commands = subcommands("--help")
    assert len(commands) >= 40
    assert await asyncio.to_thread(subcommands, "help", env=cli_env) == commands
    assert not TESTED.keys() & OUT_OF_SCOPE.keys()
    untested = sorted(commands - TESTED.keys() - OUT_OF_SCOPE.keys())
    assert not untested, f"alerta subcommands neither tested nor listed as out of scope: {untested}"
    unknown = sorted((TESTED.keys() | OUT_OF_SCOPE.keys()) - commands)
    assert not unknown, f"listed but not an alerta subcommand: {unknown}"


def test_each_listed_test_file_runs_its_subcommand() -> None:
    """A test file is named only for subcommands it really invokes (``alerta(cli_env, "<name>"`` or the
    argument list of a subprocess)."""
    for command, file in TESTED.items():
        text = (HERE / file).read_text()
        assert f'"{command}"' in text, f"{file} does not run `alerta {command}`"
