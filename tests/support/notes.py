"""The round trips of the notes' tests: add a note to an alert, list an alert's notes."""

from __future__ import annotations

from typing import Any

from .stack import Stack


async def add_note(stack: Stack, alert_id: str, text: str = "looking into it", verb: str = "PUT") -> dict[str, Any]:
    status, body = await stack.request(verb, f"/alert/{alert_id}/note", {"text": text})
    assert status == 201, body
    return dict(body["note"])


async def notes(stack: Stack, alert_id: str) -> list[dict[str, Any]]:
    status, body = await stack.request("GET", f"/alert/{alert_id}/notes")
    assert status == 200 and body["status"] == "ok" and body["total"] == len(body["notes"]), body
    return list(body["notes"])
