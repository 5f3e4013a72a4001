"""The field limits as pure rules (shared/limits.py, shared/rules.py, shared/schemas.py): the worst case of every
bound stays far below MongoDB's document limit, dates out of range and deep nesting are bad input. No broker,
no store; the same input through the stack is in test_input_limits.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import bson
import pytest

from shared import commands, limits, notes, rules
from shared.fieldtypes import isoformat
from shared.schemas import ALERT_SCHEMA, BadInput, load_body, parse_json

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DEEP = b"[" * 5000 + b"]" * 5000
ASTRAL = "\U0001f600"  # 4 bytes of UTF-8: the worst case of every length counted in characters


def worst(chars: int, n: int = 0) -> str:
    return (f"{n:06d}" + ASTRAL * chars)[:chars]


def worst_notes(doc: dict[str, Any]) -> dict[str, Any]:
    """Notes added and edited (longest text, then attributes) until the bounds refuse more (shared/notes.py)."""
    n = 0
    while True:
        n += 1
        cmd = {"op": "note", "receiveId": worst(128, n), "text": worst(limits.NOTE_CHARS // 8, n), "user": worst(1000)}
        try:
            doc = notes.apply(doc, cmd, NOW, 100)
            doc = notes.apply(doc, {"op": "note-update", "note": cmd["receiveId"], "user": worst(1000),
                                    "attributes": {worst(64, i): worst(64, i) for i in range(8)}}, NOW, 100)
        except notes.Refused as exc:
            assert exc.code == 409
            break
    assert n > 10 and limits.encoded_bytes(doc[notes.NOTES]) <= limits.NOTES_BYTES
    return doc


def test_worst_case_document_stays_far_below_the_database_limit() -> None:
    """Every field at its limit in 4-byte characters, merged over many duplicates and commands, and notes up to
    their bound: the stored size stays under ``DOCUMENT_BYTES`` (a third of MongoDB's 16 MiB)."""
    def maximal(n: int) -> dict[str, Any]:
        return {
            "id": worst(128, n), "resource": worst(limits.RESOURCE_CHARS), "event": worst(limits.EVENT_CHARS),
            "environment": worst(limits.ENVIRONMENT_CHARS), "severity": "major", "status": None,
            "correlate": [worst(limits.CORRELATE_CHARS, i) for i in range(limits.CORRELATE_ITEMS)],
            "service": [worst(limits.SERVICE_CHARS, i) for i in range(limits.SERVICE_ITEMS)],
            "group": worst(limits.GROUP_CHARS), "value": worst(limits.VALUE_CHARS, n),
            "text": worst(limits.TEXT_CHARS, n), "origin": worst(limits.ORIGIN_CHARS),
            "tags": [worst(limits.TAG_CHARS, n * 10_000 + i) for i in range(limits.TAG_ITEMS)],
            "attributes": {worst(limits.ATTRIBUTE_KEY_CHARS, n * 10_000 + i): "" for i in range(250)},
            "type": worst(limits.TYPE_CHARS), "createTime": NOW, "timeout": 86400, "user": worst(1000),
            "rawData": worst(limits.RAW_DATA_BYTES // 4),
        }

    doc = rules.create(maximal(0), NOW, 100)
    for n in range(1, 40):
        doc = rules.deduplicate(doc, maximal(n), NOW, 100)
        doc = commands.apply(doc, {"op": "status", "status": "ack", "text": worst(limits.TEXT_CHARS, n),
                                   "user": worst(1000)}, NOW, 100)
    doc = worst_notes(doc)
    doc["_rids"] = [worst(128, n) for n in range(100)]  # services/ingest/groups.py: RECENT_IDS receive ids
    load_body(ALERT_SCHEMA, {**maximal(0), "createTime": None})  # the worst case is itself acceptable
    size = len(bson.encode(doc))
    assert limits.encoded_bytes(doc["attributes"]) <= limits.ATTRIBUTES_BYTES
    assert size < limits.DOCUMENT_BYTES < 16 * 1024 * 1024 // 3, size


def test_out_of_range_dates_and_year_one() -> None:
    for value in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01"):
        with pytest.raises(BadInput, match="createTime"):
            load_body(ALERT_SCHEMA, {"resource": "r", "event": "e", "createTime": value})
    assert isoformat(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"
    assert isoformat(datetime(2026, 3, 4, 5, 6, 7, 891_999, tzinfo=UTC)) == "2026-03-04T05:06:07.891Z"


def test_deep_nesting_is_bad_input_not_recursion_error() -> None:
    for raw in (DEEP, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        with pytest.raises(BadInput, match="nested"):
            parse_json(raw)
    assert parse_json(b"[[[]]]") == [[[]]]
