"""Hostile input on the note routes (tests/test_notes.py): every body that is not a note, not readable JSON or
too large is a 4xx naming the problem, and leaves the alert's notes as they were."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import limits

from .support import Stack, assert_error, created
from .support.notes import add_note, notes

DEEP = b"[" * 5000 + b"]" * 5000


HOSTILE_NOTES: list[tuple[Any, str]] = [
    ({}, "must supply 'note' text"),
    ({"text": ""}, "must supply 'note' text"),
    ({"text": None}, "must supply 'note' text"),
    ({"text": ["a"]}, "text"),
    ({"text": {"a": 1}}, "text"),
    ({"text": True}, "text"),
    ({"text": "bad \ud800 text"}, "text"),
    ({"note": "\udfff"}, "note"),
    ({"text": "x" * (limits.NOTE_CHARS + 1)}, str(limits.NOTE_CHARS)),
    ([1], "JSON object"),
    ("a note", "JSON object"),
]


@pytest.mark.parametrize(("body", "words"), HOSTILE_NOTES)
async def test_hostile_note_bodies_are_400_and_change_nothing(stack: Stack, body: Any, words: str) -> None:
    alert_id = await created(stack)
    assert_error(*await stack.request("PUT", f"/alert/{alert_id}/note", body), 400, words)
    assert await stack.request("GET", f"/alert/{alert_id}/notes") == (
        200, {"status": "ok", "message": "not found", "notes": [], "total": 0})


@pytest.mark.parametrize(("raw", "words"), [
    (b"not json", "JSON"), (b"\xff\xfe{}", "JSON"), (DEEP, "nested"),
    (b"", "empty"), (b'{"text": NaN}', "JSON"),
])
async def test_unreadable_bodies_are_400_on_every_note_route(stack: Stack, raw: bytes, words: str) -> None:
    alert_id = await created(stack)
    note = await add_note(stack, alert_id, "kept")
    for path in (f"/alert/{alert_id}/note", f"/alert/{alert_id}/note/{note['id']}", f"/alert/{alert_id}/attributes"):
        assert_error(*await stack.request("PUT", path, raw=raw), 400, words)
    assert await notes(stack, alert_id) == [note]


@pytest.mark.parametrize(("body", "words"), [
    ({"text": ["x"]}, "text"), ({"attributes": "x"}, "attributes"), ({"attributes": {"a.b": 1}}, "attributes"),
    ({"attributes": {"$where": 1}}, "attributes"), ({"attributes": {"k": "\ud800"}}, "attributes"),
    ({"text": "x" * (limits.NOTE_CHARS + 1)}, "text"), ([{"text": "x"}], "JSON object"),
])
async def test_hostile_note_updates_are_400(stack: Stack, body: Any, words: str) -> None:
    alert_id = await created(stack)
    note = await add_note(stack, alert_id, "kept")
    assert_error(*await stack.request("PUT", f"/alert/{alert_id}/note/{note['id']}", body), 400, words)
    assert await notes(stack, alert_id) == [note]


async def test_bodies_over_the_size_limit_are_413(stack: Stack) -> None:
    alert_id = await created(stack)
    note = await add_note(stack, alert_id, "kept")
    raw = json.dumps({"text": "x" * stack.settings.max_body_bytes}).encode()
    for path in (f"/alert/{alert_id}/note", f"/alert/{alert_id}/note/{note['id']}", f"/alert/{alert_id}/attributes"):
        assert_error(*await stack.request("PUT", path, raw=raw), 413)
    assert await notes(stack, alert_id) == [note]
