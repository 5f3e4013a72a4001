"""A private alertbus stack for one benchmark run: SecantusDB, query, gateway and N ingest workers, each a
separate OS process (as in production), on free ports, under a unique broker prefix and a temp directory.

Everything it creates is removed again: the processes (SIGTERM, then kill), the temp directory and the
broker's queues and exchanges under the prefix.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import aiohttp

from services.embedded import free_port, venv_command

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass
class Stack:
    workers: int = 1
    amqp_url: str = DEFAULT_AMQP
    extra_env: dict[str, str] = field(default_factory=dict)
    keep_logs: bool = False
    prefix: str = field(default_factory=lambda: f"bench-{secrets.token_hex(4)}.")
    admin_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    port: int = field(default_factory=free_port)
    query_port: int = field(default_factory=free_port)
    hooks_port: int = field(default_factory=free_port)
    store_port: int = field(default_factory=free_port)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="alertbus-bench-")))
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.store_port}/alertbus?directConnection=true"

    def service_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AMQP_URL": self.amqp_url,
            "BROKER_PREFIX": self.prefix,
            "DATABASE_URL": self.database_url,
            "PORT": str(self.port),
            "QUERY_PORT": str(self.query_port),
            "HOOKS_PORT": str(self.hooks_port),
            "ADMIN_KEY": self.admin_key,
            "SERVICE_SECRET": self.admin_key + "-services",
            "AUTH_REQUIRED": "true",
            # Per-request logging would measure the log handler, not the service.
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def spawn(self, name: str, argv: list[str]) -> None:
        with open(self.tmp / f"{name}.log", "wb") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=self.service_env(), cwd=self.tmp)
        self.processes.append((name, process))

    async def start(self, timeout: float = 90.0) -> None:
        (self.tmp / "store").mkdir()
        self.spawn("secantusdb", [venv_command("secantusd-py"), "--host", "127.0.0.1", "--port",
                                  str(self.store_port), "--storage-path", str(self.tmp / "store"),
                                  "--log-level", "WARNING"])
        await self._wait_for_port(self.store_port, timeout)
        alertbus = venv_command("alertbus")
        # Query first: the gateway forwards reads to it. Workers before the gateway accepts traffic.
        self.spawn("query", [alertbus, "query"])
        for index in range(self.workers):
            self.spawn(f"ingest-{index + 1}", [alertbus, "ingest"])
        self.spawn("gateway", [alertbus, "gateway"])
        await self._wait_for_gateway(timeout)

    def _check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {process.returncode}:\n{self.log_tail(name)}")

    async def _wait_for_port(self, port: int, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            self._check_alive()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f}s") from None
                await asyncio.sleep(0.2)

    async def _wait_for_gateway(self, timeout: float) -> None:
        """Until the gateway says the broker and the store are reachable (``/management/gtg``), falling
        back to ``/_`` (liveness) if that route is missing."""
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                self._check_alive()
                for path in ("/management/gtg", "/_"):
                    try:
                        async with session.get(self.url + path) as response:
                            if response.status == 200:
                                return
                    except (TimeoutError, aiohttp.ClientError):
                        pass
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"the gateway at {self.url} did not answer within {timeout:.0f}s")
                await asyncio.sleep(0.3)

    def log_tail(self, name: str, lines: int = 20) -> str:
        path = self.tmp / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def exited(self) -> dict[str, int]:
        """Services that are no longer running (a crash during the load), with their exit codes."""
        return {name: code for name, process in self.processes if (code := process.poll()) is not None}

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes}

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM in reverse start order (gateway, workers, query, store), then kill what is left."""
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in reversed(self.processes):
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                print(f"bench: {name} ignored SIGTERM for {grace:.0f}s; killing it", file=sys.stderr)
                process.kill()
                process.wait()
        if not self.keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)

    async def delete_broker_objects(self) -> int:
        """Delete every queue and exchange under the prefix; returns how many were deleted."""
        queues, exchanges = _listed_names(self.prefix)
        shards = int(self.extra_env.get("INGEST_SHARDS", "8"))
        queues |= {f"{self.prefix}alertbus.ingest.{index}" for index in range(shards)}
        queues |= {f"{self.prefix}alertbus.dead", f"{self.prefix}alertbus.ingest.workers"}
        exchanges |= {f"{self.prefix}alertbus.ingest", f"{self.prefix}alertbus.dlx"}
        deleted = 0
        connection = await aio_pika.connect(self.amqp_url, timeout=10)
        async with connection:
            for kind, names in (("queue", queues), ("exchange", exchanges)):
                for name in sorted(names):
                    # A delete of something that is not there closes the channel: one channel each.
                    channel = await connection.channel()
                    try:
                        if kind == "queue":
                            await channel.queue_delete(name)
                        else:
                            await channel.exchange_delete(name)
                        deleted += 1
                    except aio_pika.exceptions.AMQPError:
                        pass
                    finally:
                        if not channel.is_closed:
                            await channel.close()
        return deleted


def _listed_names(prefix: str) -> tuple[set[str], set[str]]:
    """Names under the prefix as the broker lists them (also objects added later by other services);
    empty when rabbitmqctl is not usable here, the known names are deleted all the same."""
    found: list[set[str]] = []
    for what in ("list_queues", "list_exchanges"):
        try:
            output = subprocess.run(["rabbitmqctl", "-q", what, "name"], capture_output=True, text=True,
                                    timeout=30, check=True).stdout
        except (OSError, subprocess.SubprocessError):
            output = ""
        found.append({line.strip() for line in output.splitlines() if line.strip().startswith(prefix)})
    return found[0], found[1]
