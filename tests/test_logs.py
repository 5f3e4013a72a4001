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

import pytest

from services.embedded import free_port
from shared import logs
from shared.settings import Settings, SettingsError

from .support import SERVICE_SECRET, Stack, alert, delete_topology, eventually, other_database, unique

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


# -- one record, one line: whatever a client sent -------------------------------------------------------------------

FORGED = "\nFAKE LINE"
HOSTILE = [FORGED, "\ud800", "\r\x1b[31mred", "\x85next", "\u2028sep", "tab\there"]


def hostile_record(exc_info: object = None) -> logging.LogRecord:
    rec = logging.LogRecord("alertbus.test", logging.WARNING, __file__, 1, "heartbeat from %s %s" + FORGED,
                            (FORGED, "\ud800"), exc_info)  # type: ignore[arg-type]
    rec.__dict__.update(origin=FORGED, values=HOSTILE, request_id="rid\nFAKE LINE")
    return rec


def test_text_lines_escape_control_characters_and_lone_surrogates() -> None:
    line = logs.TextFormatter().format(hostile_record())
    assert line.splitlines() == [line] and line.encode("utf-8")  # one line, and a writable one
    assert "heartbeat from \\nFAKE LINE \\ud800\\nFAKE LINE [request_id=rid\\nFAKE LINE]" in line
    assert logs.escape("".join(HOSTILE)) == "\\nFAKE LINE\\ud800\\r\\x1b[31mred\\x85next\\u2028septab\\there"
    assert logs.escape("plain text, \\n as typed, ünïcödé 🙂") == "plain text, \\n as typed, ünïcödé 🙂"


def test_json_lines_are_ascii_and_give_back_what_was_logged() -> None:
    line = logs.JsonFormatter().format(hostile_record())
    assert line.splitlines() == [line] and line.isascii()
    body = json.loads(line)
    assert body["message"] == f"heartbeat from {FORGED} \ud800{FORGED}"
    assert (body["origin"], body["values"], body["request_id"]) == (FORGED, HOSTILE, "rid\nFAKE LINE")


def test_a_traceback_stays_on_the_line_of_its_record() -> None:
    try:
        raise ValueError(f"bad origin {FORGED}")
    except ValueError:
        rec = hostile_record(sys.exc_info())
    for formatter in (logs.TextFormatter(), logs.JsonFormatter()):
        line = formatter.format(rec)
        assert line.splitlines() == [line] and "ValueError: bad origin" in line


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_a_record_always_formats() -> None:
    cycle: dict[str, object] = {}
    cycle["self"] = cycle
    records = [record("%s and %s", "only one"), record("%d", "not a number"), record("%s", Unprintable()),
               record(Unprintable()), record(cycle=cycle, keys={(1, 2): "tuple key"}, odd=Unprintable())]  # type: ignore[arg-type]
    for rec in records:
        for formatter in (logs.TextFormatter(), logs.JsonFormatter()):
            line = formatter.format(rec)
            assert line.splitlines() == [line] and line.startswith(("20", "{"))
    assert "only one" in json.loads(logs.JsonFormatter().format(records[0]))["message"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_configured_handlers_write_hostile_records_to_a_strict_utf8_stream(fmt: str) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    try:
        logs.configure("INFO", fmt, stream)
        logging.getLogger("alertbus.test").warning("heartbeat from %s %s", FORGED, "\ud800")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = raw.getvalue().decode("utf-8").splitlines()
    assert len(lines) == 1 and "FAKE LINE" in lines[0], lines


@pytest.mark.parametrize(("path", "shown"), [
    ("/key/0123456789abcdef", "/key/***"),
    ("/api/key/0123456789abcdef", "/api/key/***"),
    ("/key/with/a/slash?and=query", "/key/***"),
    ("/API//Key/k", "/API//Key/***"),
    ("/alerts?api-key=s3cret&status=open", "/alerts?api-key=***&status=open"),
    ("/key", "/key"),
    ("/keys/x", "/keys/x"),
    ("/alert/key/x", "/alert/key/x"),
])
def test_redact_path_hides_keys(path: str, shown: str) -> None:
    assert logs.redact_path(path) == shown


@contextmanager
def captured(level: int = logging.DEBUG, formatter: logging.Formatter | None = None) -> Iterator[io.StringIO]:
    """Every alertbus log line of this process, as JSON (or with ``formatter``), while inside."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or logs.JsonFormatter())
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


async def test_access_log_lines_neither_break_nor_show_keys(stack: Stack) -> None:
    status, body = await stack.request("POST", "/key", {"user": unique("log"), "scopes": ["read"]})
    assert status == 201, body
    with captured(formatter=logs.TextFormatter()) as stream:
        assert (await stack.request("DELETE", f"/key/{body['key']}"))[0] == 200
        await stack.request("GET", "/alert/%0AFAKE%20LINE%E2%80%A8%C2%85")
    text = stream.getvalue()
    assert body["key"] not in text and "DELETE /key/*** 200" in text
    lines = text.splitlines()
    assert lines and all(line.startswith("20") for line in lines), lines  # each one a record of its own
    assert any("/alert/\\nFAKE LINE\\u2028\\x85" in line for line in lines), lines


def test_alertbus_ingest_logs_json_andserves_metrics_on_its_port(store_url: str) -> None:
    ingest_port = free_port()
    env = {**os.environ, "SERVICE_SECRET": SERVICE_SECRET, "DATABASE_URL": other_database(store_url),
           "INGEST_PORT": str(ingest_port),
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
        asyncio.run(delete_topology(Settings.from_env(env)))
    assert code == 0


def test_a_taken_ingest_port_stops_start_up_with_one_line_naming_it(store_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "SERVICE_SECRET": SERVICE_SECRET, "DATABASE_URL": other_database(store_url),
               "INGEST_PORT": str(port),
               "BROKER_PREFIX": f"logs-{port}.", "INGEST_SHARDS": "1", "LOG_LEVEL": "WARNING", "HOST": "127.0.0.1"}
        result = subprocess.run([ALERTBUS, "ingest"], env=env, capture_output=True, text=True, timeout=60)
    asyncio.run(delete_topology(Settings.from_env(env)))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [  # bound first: nothing else started, nothing else said
        f"alertbus: port {port} on 127.0.0.1 is already in use by another process: stop it, or set INGEST_PORT to "
        "a free port"]
    assert Settings.from_env({}).ingest.port == 0, "off by default: several workers may share a host"


async def _answers(url: str) -> bool:
    def get() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    return await asyncio.to_thread(get)

