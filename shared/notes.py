"""Notes on an alert and updates of its attributes: pure functions over the stored document, applied by the ingest
worker in order with the other messages of the alert's group, in the same write (services/ingest/groups.py).

Notes live on the alert document, in creation order, under ``_notes`` (an internal field: never part of an alert's
body, never read by a list). Not in a collection of their own, as Alerta keeps them: a note and its history entry
must land together, in order with the alert's other changes, and a redelivered note must be recognised — the
alert's one conditional write gives all three; and a note goes with its alert. Their cost is bounded
(``NOTE_ITEMS``, ``NOTES_BYTES``: shared/limits.py) and paid only by alerts that have notes.

As Alerta 9.1 does: adding a note writes a history entry of type ``note`` (its id the note's, its text the note's),
deleting one an entry of type ``dismiss`` ("note dismissed"); editing a note writes none. An attribute update
merges, a null value deletes the key; it writes no history entry and leaves ``updateTime`` as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .commands import ATTRIBUTES, NOTE, NOTE_DELETE, NOTE_UPDATE, history_entry, with_entry
from .fieldtypes import isoformat
from .limits import NOTE_ITEMS, NOTES_BYTES, bounded_user, encoded_bytes, merge_attributes

NOTES = "_notes"
NOTED_FIELDS = ("resource", "event", "environment", "severity", "status")  # copied into a new note's attributes


class Refused(Exception):
    """A note command that cannot be applied: its note is not there (404), or the notes would cross a bound
    (409). Answered to the caller; the alert is left as it was."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _iso(value: Any) -> Any:
    return isoformat(value) if isinstance(value, datetime) else value


def note_body(note: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    """A note as Alerta 9.1 shows it, without the links (``with_links`` adds them where the base URL is known)."""
    return {
        "id": note["id"], "text": note.get("text"), "user": note.get("user"),
        "attributes": note.get("attributes") or {}, "type": note.get("type") or "alert",
        "createTime": _iso(note.get("createTime")), "updateTime": _iso(note.get("updateTime")),
        "customer": doc.get("customer"), "related": {"alert": doc["_id"]},
    }


def with_links(body: dict[str, Any], base_url: str) -> dict[str, Any]:
    body["href"] = f"{base_url}/note/{body['id']}"
    body["_links"] = {"alert": f"{base_url}/alert/{body['related']['alert']}"}
    return body


def notes_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    notes = doc.get(NOTES)
    return list(notes) if isinstance(notes, list) else []


def find_note(doc: dict[str, Any], note_id: str) -> dict[str, Any] | None:
    return next((note for note in notes_of(doc) if note.get("id") == note_id), None)


def _index(notes: list[dict[str, Any]], note_id: str, missing: str) -> int:
    for index, note in enumerate(notes):
        if note.get("id") == note_id:
            return index
    raise Refused(404, missing)


def _bounded(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(notes) > NOTE_ITEMS:
        raise Refused(409, f"an alert keeps at most {NOTE_ITEMS} notes: delete one first")
    if encoded_bytes(notes) > NOTES_BYTES:
        raise Refused(409, f"an alert's notes take at most {NOTES_BYTES} bytes once stored: "
                           f"delete one first, or write less")
    return notes


def _entry(doc: dict[str, Any], *, kind: str, text: str, note_id: str, cmd: dict[str, Any],
           now: datetime) -> dict[str, Any]:
    return history_entry(doc, kind=kind, severity=doc["severity"], status=doc["status"], text=text, at=now,
                         user=cmd.get("user"), timeout=None, receive_id=note_id)


def add_note(doc: dict[str, Any], cmd: dict[str, Any], now: datetime, limit: int) -> dict[str, Any]:
    """A new note whose id is the command's receive id: a message applied twice adds its note once."""
    note_id = cmd["receiveId"]
    if find_note(doc, note_id) is not None:
        return doc
    note = {
        "id": note_id, "text": cmd["text"], "user": bounded_user(cmd.get("user")),
        "attributes": {name: doc.get(name) for name in NOTED_FIELDS}, "type": "alert",
        "createTime": now, "updateTime": None,
    }
    notes = _bounded([*notes_of(doc), note])
    entry = _entry(doc, kind="note", text=cmd["text"], note_id=note_id, cmd=cmd, now=now)
    return {**doc, NOTES: notes, "history": with_entry(doc, entry, limit)}


def update_note(doc: dict[str, Any], cmd: dict[str, Any], now: datetime) -> dict[str, Any]:
    """New text (when given) and attributes merged into the note's; the editor becomes its user. No history."""
    notes = notes_of(doc)
    index = _index(notes, cmd["note"], "not found")
    note = dict(notes[index])
    if cmd.get("text") is not None:
        note["text"] = cmd["text"]
    if cmd.get("attributes"):
        note["attributes"] = {**(note.get("attributes") or {}), **cmd["attributes"]}
    note["user"] = bounded_user(cmd.get("user")) or note.get("user")
    note["updateTime"] = now
    notes[index] = note
    return {**doc, NOTES: _bounded(notes)}


def delete_note(doc: dict[str, Any], cmd: dict[str, Any], now: datetime, limit: int) -> dict[str, Any]:
    notes = notes_of(doc)
    del notes[_index(notes, cmd["note"], "note not found")]
    entry = _entry(doc, kind="dismiss", text="note dismissed", note_id=cmd["note"], cmd=cmd, now=now)
    new = {**doc, NOTES: notes, "history": with_entry(doc, entry, limit)}
    if not notes:
        del new[NOTES]
    return new


def update_attributes(doc: dict[str, Any], cmd: dict[str, Any]) -> dict[str, Any]:
    """Merge (the alert's attributes stay bounded: shared/limits.py); a null value deletes its key."""
    merged = merge_attributes(doc.get("attributes") or {}, cmd["attributes"])
    return {**doc, "attributes": {key: value for key, value in merged.items() if value is not None}}


def apply(doc: dict[str, Any], cmd: dict[str, Any], now: datetime, limit: int) -> dict[str, Any]:
    """Apply one of note/note-update/note-delete/attributes; raises ``Refused``."""
    op = cmd["op"]
    if op == NOTE:
        return add_note(doc, cmd, now, limit)
    if op == NOTE_UPDATE:
        return update_note(doc, cmd, now)
    if op == NOTE_DELETE:
        return delete_note(doc, cmd, now, limit)
    if op == ATTRIBUTES:
        return update_attributes(doc, cmd)
    raise ValueError(f"unknown note command {op!r}")


def answer(cmd: dict[str, Any], doc: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
    """The reply to an applied command (or to one applied before, redelivered): a new note is 201 with the note,
    an edited one 200 with the note; every other command 200 ``{"status": "ok"}``."""
    op = cmd.get("op")
    if op not in (NOTE, NOTE_UPDATE) or doc is None:
        return 200, {"status": "ok"}
    note_id = cmd["receiveId"] if op == NOTE else cmd["note"]
    note = find_note(doc, note_id)
    body: dict[str, Any] = {"status": "ok"}
    if op == NOTE:
        body["id"] = note_id
    if note is not None:
        body["note"] = note_body(note, doc)
    return (201 if op == NOTE else 200), body
