"""Logging: one line per event, as JSON (``LOG_FORMAT=json``, for log collectors) or as text (the default of
``alertbus run``, for people). The request id travels in a context variable: the HTTP services set it per
request (from ``X-Request-ID``), the gateway passes it to the workers as the message header ``request_id``, and
the ingest worker binds it while it logs about a message, so one id follows an alert through every service."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

REQUEST_ID: ContextVar[str] = ContextVar("alertbus_request_id", default="")
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
QUIET = ("aio_pika", "aiormq", "pymongo")  # chatty at INFO; their warnings still show


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Log lines inside carry ``request_id`` (nothing when it is empty)."""
    token = REQUEST_ID.set(request_id or "")
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def _request_id(record: logging.LogRecord) -> str:
    return str(getattr(record, "request_id", "") or REQUEST_ID.get())


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id"?, <extra fields>, "exception"?}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": _time(record), "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        if rid := _request_id(record):
            body["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "request_id" and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        return json.dumps(body, default=str, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger> <message> [request_id=…]``."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {super().format(record)}"
        rid = _request_id(record)
        return f"{line} [request_id={rid}]" if rid else line


def configure(level: str, fmt: str, stream: TextIO | None = None) -> None:
    """Send every log line of the process to one handler (stderr) in the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
