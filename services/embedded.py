"""The embedded store of ``alertbus run``: a SecantusDB server process (MongoDB wire protocol) under
``DATA_DIR``. Only this launcher knows which server is behind the MongoDB URI.

One ``alertbus run`` at a time owns a DATA_DIR (``DataDir.claim``), and its store process ends with it however it
ends (started through services/store_guard.py): a ``kill -9`` leaves no store behind holding the directory."""

from __future__ import annotations

import errno
import fcntl
import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from shared.store.client import wait_until_answering

SERVER = "secantusd-py"
LOCK_FILE = "alertbus.lock"  # under DATA_DIR: held (flock) by the ``alertbus run`` using it and by its store
GUARD = Path(__file__).with_name("store_guard.py")


class DataDirError(RuntimeError):
    """DATA_DIR cannot be used: not creatable or writable, or in use by another process."""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing holds now, for a listener started a moment later. It is chosen outside the
    kernel's range for outgoing connections: a port the kernel hands out (bind to port 0) comes from that range, and
    any outgoing connection made in between (to the broker, to the store) could take it first."""
    low, high = outgoing_ports()
    below, above = (1024, low - 1), (high + 1, 65535)
    choices = below if below[1] - below[0] >= above[1] - above[0] else above
    for _ in range(100):
        port = random.randint(*choices)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # all taken (hardly): the kernel's choice
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def outgoing_ports() -> tuple[int, int]:
    """The kernel's range of local ports for outgoing connections (Linux; its default elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def venv_command(name: str, hint: str = "") -> str:
    """A console script of this interpreter's own virtual environment (else from PATH)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found beside {sys.executable} nor on PATH{hint}")
    return found


def server_command() -> str:
    return venv_command(SERVER, ": install the embedded store with 'pip install SecantusDB'")


def server_argv(port: int, storage: Path) -> list[str]:
    """The store server on 127.0.0.1:``port`` with its data under ``storage`` (also the tests' and the
    benchmark's store processes).

    ``--standalone``: a SecantusDB workaround. Advertised as a replica-set member (its default) it keeps an oplog,
    one entry per written document, and once the oplog holds its 100,000 entries every write first prunes the
    oldest — by a walk from the oldest entry that grew with the store's history: seeding a million alerts
    (``python -m bench.query --alerts 1000000``) stalled for 25 minutes inside one insert, all of it in
    ``Storage._iter_oplog_oldest`` (py-spy). alertbus reads no oplog (no change streams, no transactions), so the
    store runs without one; writes then cost no oplog entry either."""
    return [server_command(), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage),
            "--log-level", "WARNING", "--standalone"]


def server_url(port: int) -> str:
    """The MongoDB URI of the ``alertbus`` database on the store server at 127.0.0.1:``port``."""
    return f"mongodb://127.0.0.1:{port}/alertbus?directConnection=true"


def data_dir_problem(path: str | Path, exc: OSError) -> str:
    """Why DATA_DIR ``path`` cannot be used, and the fix, in one line."""
    path = Path(path).absolute()
    reason = exc.strerror or str(exc)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        reason = f"{existing} is a file, not a directory"
    elif existing is not None and not os.access(existing, os.W_OK):
        reason = f"{existing} is not writable by this user (uid {os.getuid()})"
    return f"DATA_DIR {path} cannot be created or written: {reason}; set DATA_DIR to a writable directory"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class DataDir:
    """A DATA_DIR claimed by one ``alertbus run``: an exclusive lock (``flock``) on ``DATA_DIR/alertbus.lock``,
    whose text names the run's pid and then its store's. The store process inherits the locked descriptor, so the
    directory stays claimed while either of them lives, and is free as soon as both are gone (a lock dies with
    its holders: nothing stale to clean up after a crash)."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self.descriptor = descriptor

    @classmethod
    def claim(cls, data_dir: str) -> DataDir:
        """Create DATA_DIR (and its ``store`` directory) and claim it; ``DataDirError`` with one line that names
        the cause (or the process holding the directory) and the fix."""
        path = Path(data_dir).resolve()
        try:
            (path / "store").mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DataDirError(data_dir_problem(path, exc)) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holders = os.pread(descriptor, 200, 0).decode(errors="replace")
            os.close(descriptor)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise DataDirError(data_dir_problem(path, exc)) from None
            raise DataDirError(in_use(path, holders)) from None
        dir_ = cls(path, descriptor)
        dir_._write(f"run {os.getpid()}\n")
        return dir_

    def record_store(self, pid: int) -> None:
        self._write(f"run {os.getpid()}\nstore {pid}\n")

    def _write(self, text: str) -> None:
        os.ftruncate(self.descriptor, 0)
        os.pwrite(self.descriptor, text.encode(), 0)

    def release(self) -> None:
        """Unlock (the store, if it still runs, keeps its own claim until it exits)."""
        if self.descriptor >= 0:
            os.close(self.descriptor)
            self.descriptor = -1


def in_use(path: Path, holders: str) -> str:
    """The one line for a DATA_DIR whose lock another process holds: which one (from the lock file's text)."""
    pids = dict(line.split(maxsplit=1) for line in holders.splitlines() if len(line.split()) == 2)
    run, store = (int(pids[k]) if pids.get(k, "").isdigit() else 0 for k in ("run", "store"))
    if run and pid_alive(run):
        return (f"DATA_DIR {path} is in use by another alertbus run (pid {run}): stop it, or give this one "
                f"another DATA_DIR")
    if store and pid_alive(store):
        return (f"DATA_DIR {path} is held by the store process (pid {store}) of an alertbus run that is gone "
                f"(pid {run}): stop it (kill {store}), or give this one another DATA_DIR")
    return f"DATA_DIR {path} is locked by another process (see {path / LOCK_FILE}): stop it, or use another DATA_DIR"


def guarded(argv: list[str]) -> list[str]:
    """``argv`` run so that it ends when this process ends, however it ends (see services/store_guard.py)."""
    return [sys.executable, str(GUARD), str(os.getpid()), *argv]


class EmbeddedStore:
    """The store server on ``port`` (default: a free one) with its data under ``data_dir`` (claimed here when given
    as a path; the claim lasts as long as this process, across ``stop`` and ``start``)."""

    def __init__(self, data_dir: DataDir | str, port: int | None = None) -> None:
        self.data = data_dir if isinstance(data_dir, DataDir) else DataDir.claim(data_dir)
        self.data_dir = self.data.path
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return server_url(self.port)

    async def start(self, timeout: float = 60.0) -> str:
        """Start the store (call from the main thread: see services/store_guard.py); its URL once it answers."""
        try:
            log = open(self.data_dir / "store.log", "ab")  # noqa: SIM115 - owned by the child process
        except OSError as exc:
            raise DataDirError(data_dir_problem(self.data_dir, exc)) from None
        with log:
            self.process = subprocess.Popen(
                guarded(server_argv(self.port, self.data_dir / "store")), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                pass_fds=(self.data.descriptor,),  # the store's own claim on DATA_DIR
            )
        self.data.record_store(self.process.pid)
        try:
            await wait_for_store(self.url, timeout, self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc} (its log: {self.data_dir / 'store.log'})") from None
        return self.url

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def wait_for_store(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    def alive() -> None:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the embedded store exited with code {process.returncode}")

    await wait_until_answering(url, timeout, alive)
