"""``alertbus run`` killed with ``kill -9``: its embedded store ends with it, the next run on the same DATA_DIR
starts and has every alert; a second run on a DATA_DIR in use says which process holds it. Real processes: the
command, its SecantusDB store, the RabbitMQ at ``AMQP_URL``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.embedded import LOCK_FILE, free_port, venv_command
from shared.settings import Settings

from .support import delete_topology, unique

GUARD = Path(__file__).parent.parent / "services" / "store_guard.py"


def gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped yet counts as gone: it holds nothing any more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_gone(pid: int, seconds: float) -> float:
    """Seconds until ``pid`` exited; fails after ``seconds``."""
    started = time.monotonic()
    while not gone(pid):
        assert time.monotonic() - started < seconds, f"process {pid} still runs after {seconds:.0f}s"
        time.sleep(0.05)
    return time.monotonic() - started


def run_env(data_dir: Path) -> dict[str, str]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "QUERY_PORT": str(free_port()), "HOOKS_PORT": str(free_port()),
           "DATA_DIR": str(data_dir), "ADMIN_KEY": "crash-test", "BROKER_PREFIX": f"crash-{port}.",
           "INGEST_SHARDS": "2", "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    env.pop("SERVICE_SECRET", None)
    return env


def start_run(env: dict[str, str]) -> subprocess.Popen[str]:
    """``alertbus run``, once it printed its banner (it serves then)."""
    proc = subprocess.Popen([venv_command("alertbus"), "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    assert f"http://127.0.0.1:{env['PORT']}" in banner, banner + proc.stdout.read()
    return proc


def call(env: dict[str, str], method: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    request = urllib.request.Request(f"http://127.0.0.1:{env['PORT']}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Key crash-test", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def lock_holders(data_dir: Path) -> dict[str, int]:
    text = (data_dir / LOCK_FILE).read_text()
    return {kind: int(pid) for kind, pid in (line.split() for line in text.splitlines())}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of an ``alertbus run`` of its own; its queues and exchanges are deleted afterwards."""
    env = run_env(tmp_path / "data")
    yield env
    asyncio.run(delete_topology(Settings.from_env(env)))


def stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@pytest.mark.timeout(150)
def test_kill_9_takes_the_store_along_and_the_next_run_has_every_alert(env: dict[str, str]) -> None:
    data_dir = Path(env["DATA_DIR"])
    proc = start_run(env)
    try:
        resources = [unique("crash") for _ in range(5)]
        ids = [call(env, "POST", "/alert", {"resource": r, "event": "Down", "environment": "Production",
                                            "service": ["crash"], "severity": "major"})["id"] for r in resources]
        holders = lock_holders(data_dir)
        assert holders["run"] == proc.pid and not gone(holders["store"])
        proc.kill()
        proc.wait()
        took = wait_gone(holders["store"], 5.0)
        print(f"the store (pid {holders['store']}) exited {took:.2f}s after kill -9 of alertbus run")
    finally:
        stop(proc)
    again = start_run(env)
    try:
        for alert_id, resource in zip(ids, resources, strict=True):
            alert = call(env, "GET", f"/alert/{alert_id}")["alert"]
            assert isinstance(alert, dict) and alert["resource"] == resource and alert["severity"] == "major"
        assert lock_holders(data_dir)["run"] == again.pid
    finally:
        assert stop(again) == 0


@pytest.mark.timeout(120)
def test_a_second_run_on_a_data_dir_in_use_names_the_holder(env: dict[str, str]) -> None:
    first = start_run(env)
    try:
        second_env = {**run_env(Path(env["DATA_DIR"])), "BROKER_PREFIX": env["BROKER_PREFIX"]}
        started = time.monotonic()
        result = subprocess.run([venv_command("alertbus"), "run"], env=second_env, capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 1
        assert time.monotonic() - started < 10
        assert result.stderr.strip().splitlines() == [
            f"alertbus: DATA_DIR {Path(env['DATA_DIR']).resolve()} is in use by another alertbus run "
            f"(pid {first.pid}): stop it, or give this one another DATA_DIR"
        ], result.stderr
        assert first.poll() is None  # the first one was not disturbed
        call(env, "GET", "/alerts")
    finally:
        assert stop(first) == 0


def test_a_store_left_behind_is_named_with_its_pid(tmp_path: Path) -> None:
    """Where the store outlived its run (a system without the parent-death signal): the lock is the store's."""
    data_dir = tmp_path / "data"
    (data_dir / "store").mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder_code = ("import fcntl, os, sys, time\n"
                   f"fd = os.open({str(data_dir / LOCK_FILE)!r}, os.O_RDWR | os.O_CREAT)\n"
                   "fcntl.flock(fd, fcntl.LOCK_EX)\n"
                   f"os.write(fd, b'run {dead.pid}\\nstore %d\\n' % os.getpid())\n"
                   "print('locked', flush=True)\n"
                   "time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", holder_code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = subprocess.run([venv_command("alertbus"), "run"], env=run_env(data_dir), capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"alertbus: DATA_DIR {data_dir.resolve()} is held by the store process (pid {holder.pid}) of an "
            f"alertbus run that is gone (pid {dead.pid}): stop it (kill {holder.pid}), or give this one another "
            f"DATA_DIR"
        ], result.stderr
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("mode", [[], ["--poll"]], ids=["parent-death-signal", "watcher"])
def test_the_guarded_command_ends_with_its_parent(mode: list[str]) -> None:
    """services/store_guard.py both ways: the kernel's parent-death signal (Linux) and the polling watcher."""
    parent_code = ("import subprocess, sys, os\n"
                   f"child = subprocess.Popen([sys.executable, {str(GUARD)!r}, *{mode!r}, str(os.getpid()), "
                   "'/bin/sleep', '300'])\n"
                   "print(child.pid, flush=True)\n"
                   "child.wait()\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    guarded = int(parent.stdout.readline())
    time.sleep(0.5)  # the guard has set itself up (exec'd, or started the command)
    sleepers = children(guarded)
    if mode:  # the watcher runs the command as its child
        assert len(sleepers) == 1
    else:  # exec: the guard became the command, nothing in between
        assert sleepers == [] and Path(f"/proc/{guarded}/cmdline").read_bytes().startswith(b"/bin/sleep")
    parent.kill()
    parent.wait()
    for pid in [guarded, *sleepers]:
        assert wait_gone(pid, 5.0) < 5.0
