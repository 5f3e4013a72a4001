"""Alert bodies as a client sends them, the round trips most tests make with them, and waiting for an effect
that lands asynchronously."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .stack import Stack

T = TypeVar("T")


def unique(prefix: str = "res") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def alert(resource: str, event: str = "NodeDown", severity: str = "major", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource": resource, "event": event, "environment": "Production", "severity": severity,
        "service": ["Network"], "text": f"{event} on {resource}", "value": "1",
    }
    body.update(extra)
    return body


async def created(stack: Stack, **extra: Any) -> str:
    """The id of a new alert (a unique resource) posted with ``extra`` fields."""
    status, body = await stack.post_alert(alert(unique(), **extra))
    assert status == 201, body
    return str(body["id"])


async def fetch(stack: Stack, alert_id: str) -> dict[str, Any]:
    """The alert as ``GET /alert/{id}`` shows it."""
    status, body = await stack.request("GET", f"/alert/{alert_id}")
    assert status == 200, body
    return dict(body["alert"])


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 15.0, interval: float = 0.1) -> T:
    """Poll an async predicate until it returns a truthy value; that value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


def assert_error(status: int, body: object, code: int, *words: str) -> None:
    """An error answer: ``code``, the JSON error body with its request id, and ``words`` in its message."""
    assert status == code, body
    assert isinstance(body, dict) and body["status"] == "error" and body["code"] == code
    assert body["requestId"]
    for word in words:
        assert word in body["message"], body["message"]
