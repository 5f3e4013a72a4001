"""Structured logs: one JSON object per line (or text), and the request id carried from the gateway through the
message headers into the ingest worker's log lines."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aio_pika
import pytest

from services.embedded import free_port
from shared import logs
from shared.settings import Settings, SettingsError

from .conftest import Stack, alert, delete_topology, eventually, unique
from .ops_support import other_database

ALERTBUS = str(Path(sys.executable).with_name("alertbus"))


def record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("alertbus.test", logging.WARNING, __file__, 1, message, args or ("world",), None)
    rec.__dict__.update(extra)
    return rec


def test_json_lines_carry_time_level_logger_message_request_id_and_extra_fields() -> None:
    with logs.bound("rid-1"):
        line = logs.JsonFormatter().format(record(outcome="created"))
    body = json.loads(line)
    assert "\n" not in line
    assert (body["level"], body["logger"], body["message"], body["request_id"], body["outcome"]) == (
        "WARNING", "alertbus.test", "hello world", "rid-1", "created")
    assert body["time"].endswith("Z") and "T" in body["time"]
    assert "request_id" not in json.loads(logs.JsonFormatter().format(record()))  # none bound: none shown


def test_json_lines_hold_the_exception_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = logs.JsonFormatter().format(rec)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["exception"]


def test_text_lines_name_the_request() -> None:
    with logs.bound("rid-2"):
        line = logs.TextFormatter().format(record())
    assert line.endswith("WARNING alertbus.test hello world [request_id=rid-2]")


def test_configure_sends_every_line_to_one_handler_in_the_chosen_format() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET}
    stream = io.StringIO()
    try:
        logs.configure("INFO", "json", stream)
        logging.getLogger("alertbus.test").info("configured")
        logging.getLogger("aiormq").info("chatty")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, saved in quiet.items():
            logging.getLogger(name).setLevel(saved)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["configured"]


def test_log_settings_are_validated_with_the_variable_name() -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"LOG_FORMAT": "JSON"}).log_format == "json"
    for name, value in (("LOG_FORMAT", "xml"), ("HOUSEKEEPING_INTERVAL", "soon"), ("DELETE_EXPIRED_AFTER", "-1"),
                        ("INGEST_PORT", "70000"), ("HEARTBEAT_WATCH_INTERVAL", "x")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})


@contextmanager
def captured(level: int = logging.DEBUG) -> Iterator[io.StringIO]:
    """Every alertbus log line of this process, as JSON, while inside."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("alertbus")
    saved = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved)


async def test_request_id_travels_from_the_gateway_into_the_worker_log_lines(stack: Stack) -> None:
    rid = f"trace-{uuid.uuid4().hex}"
    with captured() as stream:
        status, _ = await stack.post_alert(alert(unique()), headers={"X-Request-ID": rid})
        assert status == 201
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = {line["logger"] for line in lines if line.get("request_id") == rid}
    assert {"alertbus.http", "alertbus.ingest"} <= mine, lines


def test_alertbus_ingest_logs_json_and_serves_metrics_on_its_port(store_url: str) -> None:
    ingest_port = free_port()
    env = {**os.environ, "DATABASE_URL": other_database(store_url), "INGEST_PORT": str(ingest_port),
           "BROKER_PREFIX": f"logs-{ingest_port}.", "INGEST_SHARDS": "2", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
           "HOST": "127.0.0.1"}
    proc = subprocess.Popen([ALERTBUS, "ingest"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = json.loads(proc.stderr.readline())
        assert first["logger"].startswith("alertbus.ingest") and "consum" in first["message"], first
        base = f"http://127.0.0.1:{ingest_port}"
        asyncio.run(eventually(lambda: _answers(f"{base}/management/gtg"), timeout=15))
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            assert b"alertbus_ingest_batch_seconds" in response.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        asyncio.run(_delete_topology(Settings.from_env(env)))
    assert code == 0


def test_a_taken_ingest_port_stops_start_up_with_one_line_naming_it(store_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": other_database(store_url), "INGEST_PORT": str(port),
               "BROKER_PREFIX": f"logs-{port}.", "INGEST_SHARDS": "1", "LOG_LEVEL": "WARNING", "HOST": "127.0.0.1"}
        result = subprocess.run([ALERTBUS, "ingest"], env=env, capture_output=True, text=True, timeout=60)
    asyncio.run(_delete_topology(Settings.from_env(env)))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"alertbus: cannot listen on 127.0.0.1:{port} (INGEST_PORT): Address already in use")
    assert Settings.from_env({}).ingest_port == 0, "off by default: several workers may share a host"


async def _answers(url: str) -> bool:
    def get() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    return await asyncio.to_thread(get)


async def _delete_topology(settings: Settings) -> None:
    connection = await aio_pika.connect_robust(settings.amqp_url)
    await delete_topology(connection, settings)
    await connection.close()
