"""The gateway reads and writes JSON with orjson where it gives what the standard library gave, and with the
standard library where orjson would differ (shared/schemas.py ``parse_json``, shared/replies.py ``parse_reply``,
shared/responses.py ``dumps``)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.replies import parse_reply
from shared.responses import dumps
from shared.schemas import BadInput, parse_json

BIG = 123456789012345678901234567890
TRICKY = [
    b'{"a": 1}', b' {"a":1.5e3} ', b'{"a":-0}', b'{"a":1,"a":2}', b'{"e":"\\u00e9\\ud83d\\ude00"}',
    b'{"big":%d}' % BIG, b'{"neg":-%d}' % BIG, b'[1e400]', b'{"x":"\\ud800"}', b'\xef\xbb\xbf{"a":1}',
    '{"é": 1}'.encode("utf-16"), b'{"a":9223372036854775807}', b'{"a":18446744073709551616}',
]


@pytest.mark.parametrize("raw", TRICKY)
def test_parse_json_reads_what_the_standard_library_reads(raw: bytes) -> None:
    assert parse_json(raw) == json.loads(raw)
    assert [type(v) for v in _leaves(parse_json(raw))] == [type(v) for v in _leaves(json.loads(raw))]


@pytest.mark.parametrize("raw", [b'{"a":NaN}', b'{"a":Infinity}', b"{'a':1}", b'{"a":1', b"\xff\xfe\xfa",
                                 b"[" * 2000 + b"]" * 2000])
def test_parse_json_refuses_what_it_refused(raw: bytes) -> None:
    with pytest.raises(BadInput):
        parse_json(raw)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(), lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20))
def test_parse_json_agrees_with_the_standard_library(value: object) -> None:
    raw = json.dumps(value).encode()
    assert parse_json(raw) == json.loads(raw)


def test_big_integers_stay_exact_in_replies_and_answers() -> None:
    assert parse_reply(b'{"code":201,"body":{"n":%d}}' % BIG) == (201, {"n": BIG})
    assert json.loads(dumps({"n": BIG})) == {"n": BIG}


def test_answers_encode_what_orjson_refuses() -> None:
    assert json.loads(dumps({"s": "\ud800"})) == {"s": "\ud800"}  # a lone surrogate: the standard library
    assert json.loads(dumps({1: "int key"})) == {"1": "int key"}
    assert dumps({"t": "é"}) == '{"t":"é"}'.encode()


def test_answers_write_dates_and_odd_values_as_they_did() -> None:
    import dataclasses
    from datetime import UTC, datetime

    @dataclasses.dataclass
    class Point:
        x: int

    body = {"when": datetime(2026, 12, 7, 3, 0, tzinfo=UTC), "point": Point(1), "n": [1.5, None, True]}
    assert json.loads(dumps(body)) == json.loads(json.dumps(body, default=str))


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]
