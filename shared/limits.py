"""The bounds on everything a client sends, and the pure functions that keep a stored alert inside them.

One place for the numbers: the schemas (shared/schemas.py) refuse a body beyond them with a 400 naming the field
and the limit; the reception rules and operator commands (shared/rules.py, shared/commands.py) keep a merged
document inside them. The README's table of limits is written from this module.

Why these numbers: a stored alert must stay far below MongoDB's 16 MiB document limit after any sequence of
accepted writes, or every later write to it (even an operator's status change) fails. Lengths are counted in
characters; a character takes at most 4 bytes of UTF-8. The worst case of every field, the history and the receive
ids together stays under ``DOCUMENT_BYTES`` (tests/test_input_limits.py builds that worst case and measures it).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import bson

KIB, MIB = 1024, 1024 * 1024

# One-line, identity-like strings (no control characters or line breaks; see fieldtypes.Text).
RESOURCE_CHARS = 1024
EVENT_CHARS = 1024
ENVIRONMENT_CHARS = 256
ORIGIN_CHARS = 1024
GROUP_CHARS = 256
TYPE_CHARS = 256
SERVICE_ITEMS, SERVICE_CHARS = 100, 256
CORRELATE_ITEMS, CORRELATE_CHARS = 100, EVENT_CHARS  # correlate names events
TAG_ITEMS, TAG_CHARS = 1000, 256
USER_CHARS = 256  # a user or sponsor name, a key's owner, the user of a command

# Free text.
VALUE_CHARS = 1024  # copied into every history entry, so kept short (Alerta's value is "98%", "503" ...)
TEXT_CHARS = 64 * KIB  # alert text, status/action text; copied into history entries (see HISTORY_BYTES)
KEY_TEXT_CHARS = 1024  # an API key's description
BLACKOUT_TEXT_CHARS = 4096  # a blackout's reason
MAX_BLACKOUT_SECONDS = 100 * 366 * 86400  # a blackout's longest duration (and BLACKOUT_DURATION's)

# Structured values, measured as stored (BSON bytes), as their size in JSON says little about the stored size.
ATTRIBUTE_KEYS = 1000
ATTRIBUTE_KEY_CHARS = 256
ATTRIBUTES_BYTES = 256 * KIB
RAW_DATA_BYTES = 512 * KIB
MAX_DEPTH = 32  # nesting of attributes and rawData (MongoDB refuses documents nested 100 levels deep)

SCOPE_ITEMS = 64

# An alert's notes (shared/notes.py): each note's text at most NOTE_CHARS, at most NOTE_ITEMS notes, and all of
# them together (text, attributes, user, dates: as stored) at most NOTES_BYTES. A note that would cross a bound
# is refused (409), never dropped: notes are what operators wrote, unlike the history, which the server writes.
NOTE_CHARS = TEXT_CHARS
NOTE_ITEMS = 100
NOTES_BYTES = 512 * KIB

# The stored alert's history: HISTORY_LIMIT entries (settings, default 100) and at most this many bytes,
# oldest entries dropped first; the newest entry is always kept.
HISTORY_BYTES = 2 * MIB
# What the stored alert never exceeds: the worst case of every field above (about 2.5 MiB in 4-byte characters),
# HISTORY_BYTES, NOTES_BYTES and the receive ids (services/ingest/groups.py) make about 4.9 MiB.
DOCUMENT_BYTES = 5 * MIB
# A history entry's bytes besides text, value, event and user: field names, id, dates, severity, status, type.
ENTRY_OVERHEAD = 1 * KIB

ASTRAL = 4  # UTF-8 bytes of the widest character
_WORST_REST = ENTRY_OVERHEAD + ASTRAL * (EVENT_CHARS + USER_CHARS)  # an entry's worst case besides text, value
_TEXT, _VALUE = itemgetter("text"), itemgetter("value")


def text_bytes(value: Any) -> int:
    """The UTF-8 size of a string (0 for anything else, which is at most a number or a date in an entry)."""
    if not isinstance(value, str):
        return 0
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def encoded_bytes(value: Any) -> int:
    """The stored (BSON) size of a value, as the element of a one-field document."""
    return len(bson.encode({"v": value})) - 8  # the document's length, the key "v" and the terminator


def entry_bytes(entry: dict[str, Any]) -> int:
    return (ENTRY_OVERHEAD + text_bytes(entry.get("text")) + text_bytes(entry.get("value"))
            + text_bytes(entry.get("event")) + text_bytes(entry.get("user")))


def bounded_history(history: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` entries that fit in ``HISTORY_BYTES`` together (at least the newest one)."""
    if len(history) > limit:
        history = history[-limit:]
    # Cheap first (C loops, ~10 us for 100 entries): when even the worst case of every entry fits, nothing
    # needs measuring one by one. An entry without text or value strings is measured below instead.
    try:
        chars = sum(map(len, map(_TEXT, history))) + sum(map(len, map(_VALUE, history)))
    except (KeyError, TypeError):
        chars = HISTORY_BYTES
    if ASTRAL * chars + len(history) * _WORST_REST <= HISTORY_BYTES:
        return history
    total = 0
    for index in range(len(history) - 1, -1, -1):
        total += entry_bytes(history[index])
        if total > HISTORY_BYTES:
            return history[min(index + 1, len(history) - 1):]
    return history


def bounded_user(user: Any) -> str | None:
    """The user recorded in a history entry: a string of at most ``USER_CHARS`` (direct AMQP publishers set it
    from a message header, which nothing else bounds)."""
    if user is None:
        return None
    return (user if isinstance(user, str) else str(user))[:USER_CHARS]


def merge_tags(current: list[str], new: list[str]) -> list[str]:
    """Existing tags first, then the new ones not there yet (linear time). Over ``TAG_ITEMS`` the oldest tags
    that the incoming list does not name are dropped: the newest information wins, as in the history."""
    merged = list(current)
    seen = set(merged)
    for tag in new:
        if tag not in seen:
            seen.add(tag)
            merged.append(tag)
    excess = len(merged) - TAG_ITEMS
    if excess <= 0:
        return merged
    keep, kept = set(new), []
    for tag in merged:
        if excess > 0 and tag not in keep:
            excess -= 1
            continue
        kept.append(tag)
    return kept[-TAG_ITEMS:]  # only when ``new`` itself was over the cap (a document stored before it)


def merge_attributes(current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """New values replace old ones, new keys are appended. Over ``ATTRIBUTE_KEYS`` keys or ``ATTRIBUTES_BYTES``
    the oldest keys that the incoming attributes do not set are dropped (the incoming ones fit on their own)."""
    if not new:
        return current
    merged = {**current, **new}
    if len(merged) == len(new):  # every old key was set again: the result is as small as ``new``
        return merged
    total = encoded_bytes(merged)
    if len(merged) <= ATTRIBUTE_KEYS and total <= ATTRIBUTES_BYTES:
        return merged
    for key in [k for k in current if k not in new]:  # oldest first
        if len(merged) <= ATTRIBUTE_KEYS and total <= ATTRIBUTES_BYTES:
            break
        total -= len(bson.encode({key: merged.pop(key)})) - 5
    return merged
