"""The embedded store of ``alertbus run``: a SecantusDB server process (MongoDB wire protocol) under
``DATA_DIR``. Only this launcher knows which server is behind the MongoDB URI."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from pymongo import AsyncMongoClient

SERVER = "secantusd-py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    benchmark's store processes)."""
    return [server_command(), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(storage),
            "--log-level", "WARNING"]


def server_url(port: int) -> str:
    """The MongoDB URI of the ``alertbus`` database on the store server at 127.0.0.1:``port``."""
    return f"mongodb://127.0.0.1:{port}/alertbus?directConnection=true"


class EmbeddedStore:
    def __init__(self, data_dir: str, port: int | None = None) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return server_url(self.port)

    async def start(self, timeout: float = 60.0) -> str:
        (self.data_dir / "store").mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "store.log", "ab")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            server_argv(self.port, self.data_dir / "store"), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        await wait_for_store(self.url, timeout, self.process)
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
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url, serverSelectionTimeoutMS=500)
    try:
        while True:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the embedded store exited with code {process.returncode}")
            try:
                await client.admin.command("ping")
                return
            except Exception:
                if loop.time() > deadline:
                    raise RuntimeError(f"the store at {url} did not answer within {timeout:.0f}s") from None
                await asyncio.sleep(0.2)
    finally:
        await client.close()
