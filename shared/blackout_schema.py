"""The body of ``POST /blackout`` and ``PUT /blackout/{id}``, bounded like every body (shared/limits.py).

A field left out is absent from the loaded body (``PUT`` changes only what it names); ``null`` is loaded as None
(the ``alerta`` client sends every field, ``null`` for those not given)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, missing, validate, validates_schema

from . import limits as lim
from .fieldtypes import Line, Lines, StrictInt, Text, UtcDateTime
from .schemas import _Body


def _optional_line(maximum: int) -> Any:
    return Line(maximum, 1, load_default=missing, allow_none=True)


class BlackoutBody(_Body):
    environment = Line(lim.ENVIRONMENT_CHARS, 1, required=True, allow_none=True)
    service = Lines(lim.SERVICE_ITEMS, lim.SERVICE_CHARS, load_default=missing)
    resource = _optional_line(lim.RESOURCE_CHARS)
    event = _optional_line(lim.EVENT_CHARS)
    group = _optional_line(lim.GROUP_CHARS)
    tags = Lines(lim.TAG_ITEMS, lim.TAG_CHARS, load_default=missing)
    origin = _optional_line(lim.ORIGIN_CHARS)
    customer = _optional_line(lim.GROUP_CHARS)
    user = _optional_line(lim.USER_CHARS)
    startTime = UtcDateTime(load_default=missing, allow_none=True)
    endTime = UtcDateTime(load_default=missing, allow_none=True)
    duration = StrictInt(load_default=missing, allow_none=True,
                         validate=validate.Range(min=0, max=lim.MAX_BLACKOUT_SECONDS))
    text = Text(max_chars=lim.BLACKOUT_TEXT_CHARS, load_default=missing, allow_none=True)

    @validates_schema
    def _times(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("startTime"), data.get("endTime")
        if start is not None and end is not None and end <= start:
            raise ValidationError("must be after startTime", "endTime")


BLACKOUT_BODY = BlackoutBody()
