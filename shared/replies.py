"""What an ingest worker answered to a message a service published (``RpcClient`` in shared/broker.py).

The worker replies ``{"code": <http status>, "body": {...}}``: the body of the answer the caller gives (the alert
as stored, the command's outcome) or, from 400 on, Alerta's error body. A caller that got no reply in time, or
did not wait for one, holds a *queued* reply: the message was confirmed by the broker and will be processed.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson


class ReplyError(Exception):
    """A worker refused a message (a 4xx or 5xx reply); the HTTP middleware answers with its code and body."""

    def __init__(self, code: int, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.errors = code, message, errors


@dataclass(frozen=True)
class Reply:
    """The worker's answer to the message ``id`` (its receive id), or a queued marker (``code`` is None)."""

    id: str
    kind: str
    code: int | None = None
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def queued(self) -> bool:
        """No answer (not waited for, or not in time): the message is queued and will be processed."""
        return self.code is None

    @property
    def status(self) -> int:
        """The HTTP status it stands for: the worker's code, 202 when queued."""
        return 202 if self.code is None else self.code

    def raise_for_error(self) -> Reply:
        """``ReplyError`` for a refusal; the reply itself otherwise (queued included)."""
        if self.code is not None and self.code >= 400:
            default = "refused" if self.kind == "command" else "rejected"
            raise ReplyError(self.code, str(self.body.get("message") or default), self.body.get("errors"))
        return self


Answer = tuple[int, dict[str, Any]]  # a reply's code and body


# Nineteen digits in a row: maybe an integer orjson would read as a float (it has no big integers); such bodies are
# read by the standard library, which keeps them exact.
LONG_DIGITS = re.compile(rb"\d{19}")


def parse_reply(raw: bytes) -> Answer:
    """A worker's reply message as (code, body); ``ValueError`` when it is not ``{"code": <int>, "body": {...}}``."""
    decoded = orjson.loads(raw) if LONG_DIGITS.search(raw) is None else json.loads(raw)
    if not isinstance(decoded, dict) or not isinstance(decoded.get("body"), dict):
        raise ValueError(f"a reply must be {{\"code\": ..., \"body\": {{...}}}}, got {raw[:200]!r}")
    return int(decoded["code"]), decoded["body"]


class PendingReplies:
    """The callers waiting for a worker's reply, by message id (the reply's ``correlation_id``). A caller that is
    released, or not answered in time, gets None: its message is queued all the same."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.futures: dict[str, asyncio.Future[Answer | None]] = {}
        self.closing = False  # shutting down: calls no longer wait for replies

    def expect(self, message_id: str) -> asyncio.Future[Answer | None]:
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        self.futures[message_id] = future
        return future

    async def wait(self, future: asyncio.Future[Answer | None], timeout: float | None = None) -> Answer | None:
        """The answer, or None after ``timeout`` seconds (``RPC_TIMEOUT`` unless given)."""
        if self.closing:
            return None
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                return await future
        except TimeoutError:
            return None

    def forget(self, message_id: str) -> None:
        self.futures.pop(message_id, None)

    def deliver(self, correlation_id: str, raw: bytes) -> None:
        future = self.futures.pop(correlation_id, None)
        if future is None or future.done():
            return  # the caller gave up waiting; the message was processed all the same
        try:
            future.set_result(parse_reply(raw))
        except (ValueError, KeyError, TypeError) as exc:
            future.set_exception(exc)

    def release(self) -> None:
        """Stop waiting: every caller gets None now."""
        for future in self.futures.values():
            if not future.done():
                future.set_result(None)

    async def drain(self, timeout: float) -> None:
        """Shutdown: give the replies in flight up to ``timeout`` seconds, then release the callers; a call that
        starts from now on does not wait for its reply (the workers may be stopping too)."""
        self.closing = True
        deadline = asyncio.get_running_loop().time() + timeout
        while self.futures and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        self.release()


def encode(payload: dict[str, Any]) -> bytes:
    """A message body built here (not received): compact JSON."""
    return json.dumps(payload, separators=(",", ":")).encode()
