"""``alertbus run`` killed with ``kill -9``: its embedded store ends with it, the next run on the same DATA_DIR
starts and has every alert; a second run on a DATA_DIR in use says which process holds it. Real processes: the
command, its SecantusDB store, the RabbitMQ at ``AMQP_URL``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.embedded import LOCK_FILE, venv_command
from shared.settings import Settings

from .support import delete_topology, unique
from .support.alertbus_run import (
    call,
    children,
    gone,
    lock_holders,
    run_env,
    services_of,
    start_run,
    stop,
    stop_cleanly,
    wait_gone,
)

GUARD = Path(__file__).parent.parent / "services" / "store_guard.py"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of an ``alertbus run`` of its own; its queues and exchanges are deleted afterwards."""
    env = run_env(tmp_path / "data")
    yield env
    asyncio.run(delete_topology(Settings.from_env(env)))


@pytest.mark.timeout(240)
def test_kill_9_takes_the_store_along_and_the_next_run_has_every_alert(env: dict[str, str]) -> None:
    data_dir = Path(env["DATA_DIR"])
    proc = start_run(env)
    try:
        resources = [unique("crash") for _ in range(5)]
        ids = [call(env, "POST", "/alert", {"resource": r, "event": "Down", "environment": "Production",
                                            "service": ["crash"], "severity": "major"})["id"] for r in resources]
        holders = lock_holders(data_dir)
        assert holders["run"] == proc.pid and not gone(holders["store"])
        services = [pid for pids in services_of(proc.pid).values() for pid in pids]
        assert len(services) >= 4, services
        proc.kill()
        proc.wait()
        took = wait_gone(holders["store"], 5.0)
        print(f"the store (pid {holders['store']}) exited {took:.2f}s after kill -9 of alertbus run")
        for pid in services:  # told by the kernel (PR_SET_PDEATHSIG), they stop as on SIGTERM
            wait_gone(pid, 30.0)
    finally:
        stop(proc)
    again = start_run(env)
    try:
        for alert_id, resource in zip(ids, resources, strict=True):
            alert = call(env, "GET", f"/alert/{alert_id}")["alert"]
            assert isinstance(alert, dict) and alert["resource"] == resource and alert["severity"] == "major"
        assert lock_holders(data_dir)["run"] == again.pid
    finally:
        stop_cleanly(again)


@pytest.mark.timeout(240)
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
        stop_cleanly(first)


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
