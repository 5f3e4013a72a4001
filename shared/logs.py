"""Logging: one line per event, as JSON (``LOG_FORMAT=json``, for log collectors) or as text (the default of
``alertbus run``, for people). The request id travels in a context variable: the HTTP services set it per
request (from ``X-Request-ID``), the gateway passes it to the workers as the message header ``request_id``, and
the ingest worker binds it while it logs about a message, so one id follows an alert through every service.

One record is always one line, whatever a client sent: the JSON lines are pure ASCII (control characters, line
separators and lone surrogates are ``\\uXXXX`` escapes), and the text lines escape the same characters (a
heartbeat ``origin`` holding a newline would otherwise forge a line of its own). Formatting never fails: a
record whose arguments do not fit its message, or whose values cannot be printed, is still logged."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

REQUEST_ID: ContextVar[str] = ContextVar("alertbus_request_id", default="")
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
QUIET = ("aio_pika", "aiormq", "pymongo")  # chatty at INFO; their warnings still show
# What may not reach a text line raw: C0 controls, DEL, C1 controls (U+0085 is a line break to some readers), the
# Unicode line and paragraph separators, and surrogates (a lone one cannot even be encoded as UTF-8). A backslash
# is left alone: an escape sequence a client typed stays visible as typed, and it breaks no line.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Client-controlled paths that carry a secret: ``/key/<key>`` (``DELETE /key/{key}``) and ``?api-key=<key>``.
# The whole rest of a key path is the key: the path logged is decoded, so a key may hold a "?" or a "/".
_KEY_PATH = re.compile(r"^(/+(?:api/+)?key/+).+", re.IGNORECASE | re.DOTALL)
_KEY_PARAM = re.compile(r"([?&]api-key=)[^&#]*", re.IGNORECASE)


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Log lines inside carry ``request_id`` (nothing when it is empty)."""
    token = REQUEST_ID.set(request_id or "")
    try:
        yield
    finally:
        REQUEST_ID.reset(token)


def escape(text: str) -> str:
    """``text`` with every character that could break or forge a line written as an escape sequence."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(lambda match: _NAMED.get(match[0]) or _code(ord(match[0])), text)


def _code(point: int) -> str:
    return f"\\x{point:02x}" if point < 0x100 else f"\\u{point:04x}"


def redact_path(path: str) -> str:
    """A request path fit for a log line: the key of ``/key/<key>`` (also under ``/api``) and an ``api-key=``
    query value become ``***``."""
    return _KEY_PARAM.sub(r"\1***", _KEY_PATH.sub(r"\1***", path))


def _printable(value: Any, show: Callable[[Any], object] = repr) -> str:
    """``repr(value)`` (or ``show(value)``), or a placeholder when that raises: a broken ``__repr__`` or
    ``__str__`` must not lose the record."""
    try:
        return str(show(value))
    except Exception as exc:  # noqa: BLE001 - anything foreign code raises
        return f"<unprintable {type(value).__name__}: {type(exc).__name__}>"


def _text(value: Any) -> str:
    return _printable(value, str)


def message(record: logging.LogRecord) -> str:
    """The record's message with its arguments; when they do not fit (a wrong count, a failing ``__str__``), the
    raw message and arguments, marked, instead of the logging module's multi-line error report."""
    try:
        return record.getMessage()
    except Exception as exc:  # noqa: BLE001 - the record must be logged whatever its arguments do
        return f"{_printable(record.msg)} % {_printable(record.args)} [unformattable: {type(exc).__name__}]"


def _request_id(record: logging.LogRecord) -> str:
    return _text(getattr(record, "request_id", "") or REQUEST_ID.get())


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "process"?, "logger", "message", "request_id"?, <extra fields>, "exception"?}`` on one
    line (``process``: the name ``alertbus run`` gave this process, e.g. ``gateway-2``)."""

    def __init__(self, process: str = "") -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {"time": _time(record), "level": record.levelname}
        if self.process:
            body["process"] = self.process
        body |= {"logger": record.name, "message": message(record)}
        if rid := _request_id(record):
            body["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "request_id" and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        try:
            return _dumps(body)
        except (TypeError, ValueError, RecursionError):  # a value that is no JSON (a cycle, a key of no JSON type)
            return _dumps({key: value if isinstance(value, str) else _text(value) for key, value in body.items()})


def _dumps(body: dict[str, Any]) -> str:
    # ensure_ascii: control characters, U+2028, U+0085 and lone surrogates become \uXXXX escapes, so a line is one
    # record for every reader (str.splitlines breaks at U+2028) and always encodes, whatever the stream's encoding.
    return json.dumps(body, default=_text, ensure_ascii=True, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> [<process>] <logger> <message> [request_id=…]`` and a traceback, all on one line (escaped
    last, as a whole: no part a client controls, be it message, arguments, request id or exception text, can start
    a line). ``<process>``: the name ``alertbus run`` gave this process, e.g. ``gateway-2``."""

    def __init__(self, process: str = "") -> None:
        super().__init__()
        self.tag = f" [{process}]" if process else ""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname}{self.tag} {record.name} {message(record)}"
        if rid := _request_id(record):
            line += f" [request_id={rid}]"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)  # cached, as logging.Formatter does
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return escape(line)


def configure(level: str, fmt: str, stream: TextIO | None = None, process: str = "") -> None:
    """Send every log line of the process to one handler (stderr) in the chosen format; ``process`` names the
    process in every line (the children of ``alertbus run`` share its output)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(process) if fmt == "json" else TextFormatter(process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
