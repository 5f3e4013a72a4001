"""Field types and value checks of the schemas (shared/schemas.py): bounded, storable, printable text and dates.

The numbers come from shared/limits.py. A value the database could not store (a lone surrogate, an integer
beyond 64 bits, a NUL in a key, absurd nesting) is refused here, at the edge, with the field's name, instead of
failing at write time and being retried and dead-lettered.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields, validate

from . import limits as lim
from .limits import MAX_DEPTH

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Characters that break a line or a terminal in a log line, a health report or a console cell: C0 controls
# but tab, DEL, C1 controls (NEL among them) and the Unicode line and paragraph separators.
NOT_ONE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
NOT_UNICODE = "is not valid Unicode text (a lone UTF-16 surrogate)"


def is_unicode(value: str) -> bool:
    """False for a string holding a lone surrogate (valid JSON, ``"\\ud800"``, but no UTF-8 can hold it)."""
    if value.isascii():  # O(1) in CPython: the common case costs nothing
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short(key: str) -> str:
    """A key as it may appear in an error message: bounded, and printable whatever the client sent."""
    return ascii(key[:40]) if not key.isascii() or len(key) > 40 or NOT_ONE_LINE.search(key) else key


def check_storable(value: Any, path: str, depth: int = 0) -> None:
    """Reject what the database cannot store (integers beyond 64 bits, NUL in a key, text that is not Unicode,
    absurd nesting)."""
    if depth > MAX_DEPTH:
        raise ValidationError(f"{path} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if not is_unicode(value):
            raise ValidationError(f"{path} {NOT_UNICODE}")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValidationError(f"{path} holds an integer outside the 64-bit range")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_key(key, path)
            check_storable(item, f"{path}.{_short(key)}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{path}[{index}]", depth + 1)


def _check_key(key: str, path: str) -> None:
    if "\x00" in key:  # BSON keys are NUL-terminated: the document could never be written
        raise ValidationError(f"{path} has a key with a NUL character")
    if not is_unicode(key):
        raise ValidationError(f"{path} has a key that {NOT_UNICODE}")


def check_attributes(value: dict[str, Any] | None) -> None:
    if not value:
        return
    for key in value:
        if not key or "." in key or "$" in key:
            raise ValidationError('attribute keys must not be empty or contain "." or "$"')
        if len(key) > lim.ATTRIBUTE_KEY_CHARS:
            raise ValidationError(f"attribute keys are at most {lim.ATTRIBUTE_KEY_CHARS} characters long")
    check_storable(value, "attributes")
    if lim.encoded_bytes(value) > lim.ATTRIBUTES_BYTES:
        raise ValidationError(f"attributes take at most {lim.ATTRIBUTES_BYTES} bytes once stored")


def check_raw_data(value: Any) -> None:
    too_big = f"rawData takes at most {lim.RAW_DATA_BYTES} bytes once stored"
    if isinstance(value, str) and len(value) > lim.RAW_DATA_BYTES:  # refused before any measuring
        raise ValidationError(too_big)
    check_storable(value, "rawData")
    size = lim.text_bytes(value) if isinstance(value, str) else lim.encoded_bytes(value)
    if size > lim.RAW_DATA_BYTES:
        raise ValidationError(too_big)


def chars(maximum: int, minimum: int | None = None) -> validate.Length:
    return validate.Length(min=minimum, max=maximum, error="must be {min} to {max} characters long"
                           if minimum else "must be at most {max} characters long")


def items(maximum: int, minimum: int | None = None) -> validate.Length:
    return validate.Length(min=minimum, max=maximum, error="must have {min} to {max} items"
                           if minimum else "must have at most {max} items")


class StrictInt(fields.Integer):
    """An integer that must be a JSON integer (not a float, string or boolean)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Text(fields.String):
    """A string; numbers are accepted and turned into their text, as Alerta's clients send them. Never a lone
    surrogate (the database could not store it); with ``one_line``, no control character or line break either
    (identity-like fields end up in log lines, health reports and console cells). The length is checked here
    rather than by a validator: this runs for every string of every alert, twice (gateway and worker)."""

    def __init__(self, *, max_chars: int | None = None, min_chars: int = 0, one_line: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_chars, self.min_chars, self.one_line = max_chars, min_chars, one_line

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = json.dumps(value)
        text: str = super()._deserialize(value, attr, data, **kwargs)
        if self.max_chars is not None and not self.min_chars <= len(text) <= self.max_chars:
            raise ValidationError(f"must be {self.min_chars} to {self.max_chars} characters long" if self.min_chars
                                  else f"must be at most {self.max_chars} characters long")
        if not text.isascii() and not is_unicode(text):
            raise ValidationError(NOT_UNICODE)
        if self.one_line and NOT_ONE_LINE.search(text):
            raise ValidationError("must be one line: control characters and line breaks are not allowed")
        return text


def Line(maximum: int, minimum: int = 0, **kwargs: Any) -> Text:
    """A one-line string of at most ``maximum`` characters (a field constructor, hence the capital)."""
    return Text(one_line=True, max_chars=maximum, min_chars=minimum, **kwargs)


def Lines(maximum_items: int, maximum_chars: int, **kwargs: Any) -> fields.List[Any]:
    """An optional list of one-line strings (tags, service, correlate). An empty string stays allowed in them,
    as it always was."""
    kwargs.setdefault("load_default", None)
    kwargs.setdefault("allow_none", True)
    return fields.List(Line(maximum_chars), validate=items(maximum_items), **kwargs)


class UtcDateTime(fields.DateTime):
    """ISO 8601 date-time; naive values are taken as UTC; output is ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        parsed: datetime = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00, 9999-12-31T23:59-01:00: no UTC date-time exists
            raise ValidationError("is out of range: in UTC it falls before year 1 or after year 9999") from None

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else isoformat(value)


def isoformat(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    # Not strftime: its %Y writes year 1 as "1", which no client parses back.
    return value.isoformat(timespec="milliseconds") + "Z"
