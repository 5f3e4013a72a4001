"""``make run``: it installs what running needs, not the gate's tools, and it has a broker first: the local default
RabbitMQ is started when the shell can (root, rabbitmq-server installed), else one line names the command that
would (scripts/broker-for-run.sh). The branches without a broker run in a network namespace of their own, where
nothing answers on 127.0.0.1:5672, with stand-ins for the RabbitMQ commands: the machine's broker is never
touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.embedded import free_port

from .support import AMQP_URL
from .support.deploy import ROOT

SCRIPT = ROOT / "scripts" / "broker-for-run.sh"
PYTHON = {"PYTHON": sys.executable}
can_unshare = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("runuser") is None,
    reason="needs root, unshare and runuser (a network namespace without a broker)")


def make_dry_run(target: str, venv: Path) -> str:
    result = subprocess.run(["make", "-n", f"VENV={venv}", target], cwd=ROOT, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_installs_the_runtime_only_and_the_gate_the_dev_tools(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run = make_dry_run("run", venv)
    assert "-e '.[embedded]'" in run and "[dev]" not in run, run
    assert "scripts/broker-for-run.sh" in run and f"{venv}/bin/alertbus run" in run
    assert run.index("broker-for-run.sh") < run.index("alertbus run")
    for target in ("test", "check", "lint", "typecheck", "chaos", "fuzz", "bench"):
        assert "-e '.[dev]'" in make_dry_run(target, venv), target


def broker_check(env: dict[str, str], *, namespace: bool = False, user: str | None = None,
                 path: str | None = None) -> subprocess.CompletedProcess[str]:
    """The script as `make run` runs it; ``namespace``: in a network namespace of its own (loopback up)."""
    base = {key: value for key, value in os.environ.items() if key != "AMQP_URL"}
    full = {**base, **PYTHON, **env}
    if path is not None:
        full["PATH"] = path
    command = ["sh", str(SCRIPT)]
    if user:
        command = ["runuser", "-u", user, "--", "env", f"PATH={full['PATH']}", *command]
    if namespace:
        command = ["unshare", "-n", "sh", "-c", 'ip link set lo up 2>/dev/null || true; exec "$@"', "sh", *command]
    return subprocess.run(command, cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)


def test_a_broker_that_answers_needs_nothing() -> None:
    result = broker_check({"AMQP_URL": AMQP_URL})
    assert result.returncode == 0 and result.stdout == result.stderr == "", result


def test_no_broker_elsewhere_is_one_line_without_the_password() -> None:
    port = free_port()
    result = broker_check({"AMQP_URL": f"amqp://alertbus:hunter2secret@127.0.0.1:{port}/"})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and f"127.0.0.1:{port} (AMQP_URL)" in result.stderr, result.stderr
    assert "hunter2secret" not in result.stderr


@can_unshare
def test_no_local_broker_and_no_root_prints_the_command() -> None:
    # The system's python3: another user may not be allowed into this checkout's venv.
    result = broker_check({"PYTHON": "python3"}, namespace=True, user="nobody",
                          path="/usr/local/bin:/usr/bin:/bin:/usr/sbin")
    assert result.returncode == 1 and result.stdout == "", result
    assert result.stderr == "alertbus: no RabbitMQ answers at 127.0.0.1:5672; start it with: sudo make broker\n"


STAND_INS = {
    # Listens on 127.0.0.1:5672 of the namespace in the background, as `rabbitmq-server -detached` would.
    "rabbitmq-server": f"""#!/bin/sh
echo "$0 $*" >> "$CALLS"
{sys.executable} -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 5672))
s.listen(); time.sleep(30)' </dev/null >/dev/null 2>&1 &
echo $! > "$CALLS.pid"
""",
    "rabbitmqctl": '#!/bin/sh\necho "$0 $*" >> "$CALLS"\n',
    "rabbitmq-plugins": '#!/bin/sh\necho "$0 $*" >> "$CALLS"\n',
}


@can_unshare
def test_no_local_broker_as_root_starts_one_as_ci_does(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in STAND_INS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls"
    try:
        result = broker_check({"CALLS": str(calls)}, namespace=True, path=f"{bin_dir}:{os.environ['PATH']}")
    finally:
        pid = tmp_path / "calls.pid"
        if pid.exists():
            subprocess.run(["kill", pid.read_text().strip()], capture_output=True)
    assert result.returncode == 0, result
    assert "starting it" in result.stdout and "RabbitMQ is up" in result.stdout
    called = calls.read_text()
    assert f"{bin_dir}/rabbitmq-server -detached" in called
    assert "rabbitmq-plugins enable --quiet rabbitmq_consistent_hash_exchange" in called
