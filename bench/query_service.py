"""The query service that ``python -m bench.query`` measures: its own process, started as ``alertbus query`` runs
in production, answering only a caller that presents this run's ``SERVICE_SECRET`` (as the gateway does)."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from services.embedded import free_port
from tests.support.alertbus_run import stop

SECRET = secrets.token_urlsafe(24)  # the query service's SERVICE_SECRET for this run


@asynccontextmanager
async def query_service(database_url: str, logs: Path) -> AsyncIterator[str]:
    """The query service as its own process, exactly as ``alertbus query`` runs in production."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "QUERY_PORT": str(port), "LOG_LEVEL": "WARNING",
           "PYTHONUNBUFFERED": "1", "SERVICE_SECRET": SECRET}
    with open(logs / "query.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "services.query"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(url, process)
        yield url
    finally:
        stop(process, grace=15)


async def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the query service exited with code {process.returncode}")
            try:
                async with session.get(f"{url}/management/status") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the query service did not start")
            await asyncio.sleep(0.2)


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "".join(f"    | {line}\n" for line in text)
