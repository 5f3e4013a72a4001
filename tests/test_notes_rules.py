"""Notes and attribute updates as pure rules over a stored alert (shared/notes.py): no broker, no store. The same
through the stack is in test_notes.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared import limits, notes, rules

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def stored_alert() -> dict[str, object]:
    alert = {"id": "a-1", "resource": "web01", "event": "Down", "environment": "Production", "severity": "major",
             "status": None, "correlate": [], "service": ["Web"], "group": "Misc", "value": "1", "text": "",
             "tags": [], "attributes": {"a": 1, "b": 2}, "origin": "test", "type": "exceptionAlert",
             "createTime": NOW, "timeout": 86400, "rawData": "", "user": "someone"}
    return rules.create(alert, NOW, 100)


def test_a_note_applied_twice_is_kept_once() -> None:
    """Beyond the receive ids an alert remembers, the note's id (its message's receive id) still says it is there."""
    command = {"op": "note", "receiveId": "r-1", "text": "once", "user": "ops"}
    doc = notes.apply(stored_alert(), command, NOW, 100)
    again = notes.apply(doc, command, NOW + timedelta(seconds=1), 100)
    assert again == doc and [n["id"] for n in again[notes.NOTES]] == ["r-1"]
    assert [entry["type"] for entry in again["history"]] == ["new", "note"]
    assert notes.answer(command, again) == (201, {"status": "ok", "id": "r-1",
                                                  "note": notes.note_body(again[notes.NOTES][0], again)})


def test_an_edit_keeps_the_text_unless_given_and_the_user_unless_known() -> None:
    doc = notes.apply(stored_alert(), {"op": "note", "receiveId": "r-1", "text": "draft", "user": "ops"}, NOW, 100)
    later = NOW + timedelta(minutes=5)
    edited = notes.apply(doc, {"op": "note-update", "note": "r-1", "attributes": {"x": None}, "user": None}, later, 100)
    note = edited[notes.NOTES][0]
    assert (note["text"], note["user"], note["updateTime"], note["attributes"]["x"]) == ("draft", "ops", later, None)
    assert edited["history"] == doc["history"]


def test_deleting_the_last_note_leaves_no_notes_field() -> None:
    doc = notes.apply(stored_alert(), {"op": "note", "receiveId": "r-1", "text": "n", "user": "ops"}, NOW, 100)
    gone = notes.apply(doc, {"op": "note-delete", "note": "r-1", "user": "ops"}, NOW, 100)
    assert notes.NOTES not in gone and gone["history"][-1]["type"] == "dismiss"
    with pytest.raises(notes.Refused) as refused:
        notes.apply(gone, {"op": "note-delete", "note": "r-1"}, NOW, 100)
    assert (refused.value.code, refused.value.message) == (404, "note not found")


def test_attribute_updates_merge_delete_and_stay_bounded() -> None:
    doc = notes.apply(stored_alert(), {"op": "attributes", "attributes": {"a": None, "c": 3}}, NOW, 100)
    assert doc["attributes"] == {"b": 2, "c": 3} and doc["updateTime"] == stored_alert()["updateTime"]
    many = {f"k{i}": "v" * 200 for i in range(limits.ATTRIBUTE_KEYS)}
    doc = notes.apply(doc, {"op": "attributes", "attributes": many}, NOW, 100)
    assert doc["attributes"] == many  # the oldest keys made room for the new ones
    assert limits.encoded_bytes(doc["attributes"]) <= limits.ATTRIBUTES_BYTES
