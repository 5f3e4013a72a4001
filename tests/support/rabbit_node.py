"""A private RabbitMQ node for tests that stop or restart the broker itself, which the shared RabbitMQ at
``AMQP_URL`` must never be: a node of its own name (``<kind>-<hex>@localhost``), on free ports of its own (AMQP and
distribution, both on 127.0.0.1), with its data, logs, configuration and Erlang cookie in a temporary directory,
and ``rabbitmq_consistent_hash_exchange`` enabled (alertbus declares its ingest exchange with it).

The node runs in the foreground as a child process (``rabbitmq-server``, in a session of its own). ``stop`` and
``start`` again keep its data directory, so durable quorum queues and the messages in them survive a restart;
``close`` kills what is left of the node and removes the directory.

The installed scripts are called directly, not through the ``/usr/sbin`` wrappers (which switch to the
``rabbitmq`` user and the shared node's cookie): the node and its CLI (``ctl``) share the cookie in the
temporary ``HOME``. Only the epmd daemon is shared with the other nodes of the machine (each node registers its
own name there); the CLI takes its distribution port from RabbitMQ's usual range (35672-35682).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from services.embedded import free_port

PLUGINS = ("rabbitmq_consistent_hash_exchange",)
START_TIMEOUT = 90.0  # seconds for the node to boot (a few on an idle machine)
STOP_TIMEOUT = 60.0  # seconds for a graceful stop before the node is killed


def rabbit_scripts() -> Path:
    """Where ``rabbitmq-server`` and ``rabbitmqctl`` live (``RABBITMQ_SCRIPTS`` overrides): behind the
    ``/usr/sbin`` wrapper of a Debian package, the directory it runs them from; otherwise beside ``rabbitmq-server``
    on the ``PATH``."""
    configured = os.environ.get("RABBITMQ_SCRIPTS")
    if configured:
        return Path(configured)
    found = shutil.which("rabbitmq-server")
    if found is None:
        raise RuntimeError("rabbitmq-server is not on the PATH (or set RABBITMQ_SCRIPTS)")
    return Path(found).resolve().parent


class RabbitNode:
    """``await start()``, ``amqp_url``, ``await stop()`` / ``await restart()``, ``ctl(...)``; ``close()`` always
    (it is idempotent)."""

    def __init__(self, kind: str = "private") -> None:
        self.name = f"{kind}-{secrets.token_hex(4)}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"alertbus-rabbit-{kind}-"))
        self.scripts = rabbit_scripts()
        self.process: subprocess.Popen[bytes] | None = None
        self.reaped = True  # the process's group was killed (or there is none): never signal that id again
        self.listening = 0.0  # time.monotonic() when the node last accepted AMQP connections again
        self.env = self._prepare()

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _prepare(self) -> dict[str, str]:
        """The directory's files and the environment of the node and its CLI."""
        home = self.tmp / "home"
        home.mkdir()
        cookie = home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)
        (self.tmp / "enabled_plugins").write_text(f"[{','.join(PLUGINS)}].\n")
        (self.tmp / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{self.port}\nlog.console = false\n")
        (self.tmp / "rabbitmq-env.conf").write_text("")  # not the machine's (it names the shared node)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        return {
            **inherited,
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_CONFIG_FILE": str(self.tmp / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.tmp / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.tmp / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.tmp / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.tmp / "log"),
        }

    # -- the node ---------------------------------------------------------------------------------

    async def start(self, timeout: float = START_TIMEOUT) -> float:
        """Start the node (on the data it has, if any) and wait until it accepts AMQP connections and says it has
        booted; the seconds it took."""
        assert not self.alive, f"{self.name} is already running"
        started = time.monotonic()
        with open(self.tmp / "server.log", "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen([str(self.scripts / "rabbitmq-server")], env=self.env, cwd=self.tmp,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self.reaped = False
        deadline = started + timeout
        while not await self._answers():
            if not self.alive:
                raise RuntimeError(f"RabbitMQ node {self.name} exited while starting\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.name} did not listen within {timeout:.0f}s\n"
                                   f"{self.log_tail()}")
            await asyncio.sleep(0.1)
        self.listening = time.monotonic()
        remaining = max(5.0, deadline - time.monotonic())
        await asyncio.to_thread(self.ctl, "await_startup", "--timeout", str(int(remaining)), timeout=remaining + 10)
        return time.monotonic() - started

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> float:
        """SIGTERM: a graceful stop (``rabbitmq-server`` stops the node as ``rabbitmqctl stop`` does); SIGKILL: a
        crash of the whole node. Waits for the exit (kills the node after ``timeout``); the seconds it took."""
        process = self.process
        assert process is not None and self.alive, f"{self.name} is not running"
        started = time.monotonic()
        if sig == signal.SIGKILL:
            os.killpg(process.pid, signal.SIGKILL)  # the script and the Erlang VM it started
        else:
            process.send_signal(sig)
        while process.poll() is None:
            if time.monotonic() - started > timeout:
                self._kill()
                break
            await asyncio.sleep(0.05)
        self._kill()  # an Erlang VM the script left behind
        return time.monotonic() - started

    async def restart(self, sig: signal.Signals = signal.SIGTERM) -> tuple[float, float]:
        """Stop the node and start it again on the same data; (seconds to stop, seconds to start)."""
        stopped = await self.stop(sig)
        return stopped, await self.start()

    def close(self) -> None:
        """Stop the node if it runs (gracefully, then killed), and remove its directory."""
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT / 2)
            except subprocess.TimeoutExpired:
                pass
        self._kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _kill(self) -> None:
        """SIGKILL to the node's session (the group this node's script leads, nothing else), and reap."""
        if self.process is None or self.reaped:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        self.reaped = True

    async def _answers(self) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        return True

    # -- the CLI and the logs ---------------------------------------------------------------------

    def ctl(self, *args: str, timeout: float = 30.0) -> str:
        """``rabbitmqctl -n <this node> <args>``; its output (raises on failure)."""
        result = subprocess.run([str(self.scripts / "rabbitmqctl"), "-n", self.name, *args], env=self.env,
                                cwd=self.tmp, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {self.name} failed ({result.returncode}): "
                               f"{result.stderr or result.stdout}")
        return result.stdout

    def log_tail(self, lines: int = 40) -> str:
        """The end of what the script printed and of the node's own log."""
        parts = []
        for path in (self.tmp / "server.log", self.tmp / "log" / f"{self.name}.log"):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {path.name} ---\n" + "\n".join(text.splitlines()[-lines:]))
        return "\n".join(parts)
