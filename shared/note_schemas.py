"""Marshmallow schemas of the note and attribute routes' bodies (their wire message is the ``command`` of
shared/schemas.py). Alerta 9.1's answers to a body without what the route needs are kept word for word."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, post_load, pre_load, validates

from . import limits as lim
from .fieldtypes import Text, check_attributes, items
from .schemas import _Body

NO_ATTRIBUTES = "must supply 'attributes' as json data"


def _attributes_field(**kwargs: Any) -> fields.Dict:
    return fields.Dict(keys=fields.String(), validate=items(lim.ATTRIBUTE_KEYS), **kwargs)


class NoteBody(_Body):
    """``PUT|POST /alert/{id}/note``: ``{"text": ...}``, or Alerta's other spelling ``{"note": ...}``."""

    text = Text(max_chars=lim.NOTE_CHARS, load_default=None, allow_none=True)
    note = Text(max_chars=lim.NOTE_CHARS, load_default=None, allow_none=True)

    @post_load
    def _text(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        text = data.get("text") or data.get("note")
        if not text:
            raise ValidationError("must supply 'note' text", "_schema")  # Alerta's words, which name both fields
        return {"text": text}


class NoteUpdateBody(_Body):
    """``PUT /alert/{id}/note/{note_id}``: new ``text`` and/or ``attributes`` (merged into the note's)."""

    text = Text(max_chars=lim.NOTE_CHARS, load_default=None, allow_none=True)
    attributes = _attributes_field(load_default=None, allow_none=True)

    @pre_load
    def _something(self, data: Any, **kwargs: Any) -> Any:
        if data == {}:
            raise ValidationError("nothing to change", "_schema")
        return data

    @validates("attributes")
    def _attributes(self, value: dict[str, Any] | None, **kwargs: Any) -> None:
        check_attributes(value)


class AttributesBody(_Body):
    """``PUT /alert/{id}/attributes`` (what ``alerta update`` sends): ``{"attributes": {...}}``, merged into the
    alert's; a null value deletes the key."""

    attributes = _attributes_field(load_default=None, allow_none=True)

    @validates("attributes")
    def _attributes(self, value: dict[str, Any] | None, **kwargs: Any) -> None:
        check_attributes(value)

    @post_load
    def _needed(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if not data.get("attributes"):
            raise ValidationError(NO_ATTRIBUTES, "_schema")  # Alerta's words, naming the field
        return data


NOTE_BODY = NoteBody()
NOTE_UPDATE_BODY = NoteUpdateBody()
ATTRIBUTES_BODY = AttributesBody()
