"""``alertbus run`` as a test starts it: its own ports, DATA_DIR and broker prefix; its processes seen in /proc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from services.embedded import LOCK_FILE, free_port, venv_command
from services.supervisor import STOP_GRACE


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


class Run(subprocess.Popen[str]):
    """An ``alertbus run`` whose output (its own and its children's: they share it) is read as it comes, by a
    thread: a pipe nobody reads fills up after 64 KiB, and a process that logs into it then blocks, shutdown
    included. ``output()`` is everything read so far."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__([venv_command("alertbus"), "run"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.banner = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.stdout is not None
        for line in self.stdout:
            self.lines.append(line)
            self.banner.set()
        self.banner.set()

    def banner_line(self, timeout: float = 150) -> str:
        """The first line the run printed (its banner when it serves); "" if it printed nothing."""
        self.banner.wait(timeout)
        return self.lines[0] if self.lines else ""

    def output(self) -> str:
        """What the run printed; all of it once it has exited."""
        if self.poll() is not None:
            self.reader.join(10)
        return "".join(self.lines)


def start_run(env: dict[str, str]) -> Run:
    """``alertbus run``, once it printed its banner (it serves then)."""
    proc = Run(env)
    if f"http://127.0.0.1:{env['PORT']}" not in proc.banner_line():
        stop(proc, 30)
        raise AssertionError(f"alertbus run did not start: {proc.output()}")
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


def stop(proc: subprocess.Popen[Any], grace: float = STOP_GRACE * 2 + 20) -> int:
    """SIGTERM, then SIGKILL after ``grace`` seconds; the exit code. The default grace outlasts what ``alertbus
    run`` itself allows (STOP_GRACE for the gateways, then for the others, and its store's stop), so that a child
    that hangs is killed and reported by the run, not by this."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def stop_cleanly(proc: Run) -> None:
    """Stop ``proc``; it must exit 0 with every child stopped of its own accord (the message is its output)."""
    code = stop(proc)
    output = proc.output()
    assert code == 0 and "did not stop within" not in output, f"exit code {code}; the run printed:\n{output}"


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except (FileNotFoundError, ProcessLookupError):
        return []


def services_of(pid: int) -> dict[str, list[int]]:
    """The services ``alertbus run`` (``pid``) runs, each with the pids of its processes."""
    found: dict[str, list[int]] = {}
    for child in children(pid):
        argv = command_line(child)
        if argv[-3:-1] == ["-m", "services"] and not gone(child):
            found.setdefault(argv[-1], []).append(child)
    return found
