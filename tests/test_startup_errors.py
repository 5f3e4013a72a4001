"""Start-up failures of the real ``alertbus`` command are one line on stderr, naming the cause and the fix, with a
non-zero exit code: against the real RabbitMQ at ``AMQP_URL`` (a refused login, a missing virtual host), a store
that does not answer, an unusable DATA_DIR and a port in use."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from services.embedded import free_port, venv_command
from shared.broker import Names
from shared.settings import Settings

from .support.namespace import AMQP_URL


def alertbus(command: str, **variables: str) -> tuple[int, list[str], float]:
    """Run ``alertbus <command>`` to its end: exit code, the non-empty lines of stderr, seconds taken."""
    env = {**os.environ, "PORT": str(free_port()), "QUERY_PORT": str(free_port()), "HOOKS_PORT": str(free_port()),
           "BROKER_PREFIX": f"startup-{secrets.token_hex(4)}.", "LOG_LEVEL": "WARNING", **variables}
    if "DATABASE_URL" not in variables:
        env.pop("DATABASE_URL", None)
    started = time.monotonic()
    result = subprocess.run([venv_command("alertbus"), command], env=env, capture_output=True, text=True,
                            timeout=60)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return result.returncode, lines, time.monotonic() - started


def amqp_url(user: str | None = None, password: str | None = None, vhost: str | None = None) -> str:
    parts = urlsplit(AMQP_URL)
    user = user or parts.username or "guest"
    password = password or parts.password or "guest"
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port or 5672}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{vhost}" if vhost is not None else parts.path))


def test_a_wrong_broker_password_says_the_login_was_refused(tmp_path: Path) -> None:
    code, lines, _ = alertbus("run", AMQP_URL=amqp_url(password="not-the-password"), DATA_DIR=str(tmp_path))
    host = urlsplit(AMQP_URL)
    assert code == 1
    assert lines == [f"alertbus: RabbitMQ at amqp://{host.hostname}:{host.port or 5672}{host.path or '/'} refused "
                     f"the login of user '{host.username or 'guest'}' (authentication failed): check the user name "
                     f"and password in AMQP_URL"]
    assert "not-the-password" not in lines[0]


def test_a_missing_vhost_says_so_and_how_to_create_it(tmp_path: Path) -> None:
    vhost = f"alertbus-missing-{secrets.token_hex(4)}"
    code, lines, _ = alertbus("run", AMQP_URL=amqp_url(vhost=vhost), DATA_DIR=str(tmp_path))
    assert code == 1 and len(lines) == 1, lines
    assert f"refused virtual host '{vhost}': it does not exist" in lines[0]
    assert f"'rabbitmqctl add_vhost {vhost}'" in lines[0] and "AMQP_URL" in lines[0]


def test_a_store_that_does_not_answer_is_named_without_its_password() -> None:
    port = free_port()  # nothing listens there
    code, lines, took = alertbus("gateway", SERVICE_SECRET="s" * 32,
                                 DATABASE_URL=f"mongodb://alertbus:hunter2@127.0.0.1:{port}/alertbus?authSource=admin")
    assert code == 1
    assert lines == [f"alertbus: the store at mongodb://127.0.0.1:{port}/alertbus did not answer within 5s "
                     "(ServerSelectionTimeoutError): start it, or check the host, port and credentials in "
                     "DATABASE_URL"]
    assert took < 30


def test_a_data_dir_under_a_regular_file_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    expected = (f"DATA_DIR {blocker / 'data'} cannot be created or written: {blocker} is a file, not a directory; "
                "set DATA_DIR to a writable directory")
    # With a SERVICE_SECRET the embedded store's directory is the first thing written, without one the secret kept
    # there (a configuration error, exit code 2).
    code, lines, _ = alertbus("run", DATA_DIR=str(blocker / "data"), SERVICE_SECRET="s" * 32)
    assert (code, lines) == (1, [f"alertbus: {expected}"])
    code, lines, _ = alertbus("run", DATA_DIR=str(blocker / "data"), SERVICE_SECRET="")
    assert (code, lines) == (2, [f"alertbus: configuration error: {expected}"])


def test_a_port_in_use_is_reported_first_with_its_variable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for variable in ("PORT", "QUERY_PORT", "HOOKS_PORT"):
            data_dir = tmp_path / variable
            code, lines, took = alertbus("run", DATA_DIR=str(data_dir), **{variable: str(port)})
            assert code == 1
            assert lines == [f"alertbus: port {port} on 127.0.0.1 is already in use by another process: stop it, "
                             f"or set {variable} to a free port"]
            assert not (data_dir / "store.log").exists()  # before the store (or anything slow) started
            assert took < 15
        code, lines, _ = alertbus("query", SERVICE_SECRET="s" * 32, QUERY_PORT=str(port),
                                  DATABASE_URL=f"mongodb://127.0.0.1:{free_port()}/alertbus")
        assert (code, lines) == (1, [f"alertbus: port {port} on 127.0.0.1 is already in use by another process: "
                                     "stop it, or set QUERY_PORT to a free port"])


def test_broker_prefix_gets_a_separator_unless_it_ends_in_one() -> None:
    def names(prefix: str) -> Names:
        return Names.from_settings(Settings.from_env({"BROKER_PREFIX": prefix}))

    assert names("foo").ingest == "foo.alertbus.ingest"
    assert names("foo").shard(0) == "foo.alertbus.ingest.0"
    for prefix in ("foo.", "foo_", "foo:", "foo-"):
        assert names(prefix).ingest == f"{prefix}alertbus.ingest"
    assert names("").ingest == "alertbus.ingest"
