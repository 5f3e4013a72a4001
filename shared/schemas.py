"""Marshmallow schemas for every HTTP body and wire message. Used at the edges only.

The gateway ``load``s a request body and publishes the body as it was sent (direct publishers send the same
bytes); the ingest worker ``load``s the wire message again (direct RabbitMQ publishers skip the gateway, so the
worker cannot trust its input either).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
)

from . import limits as lim
from .commands import OPERATIONS
from .fieldtypes import (
    Line,
    Lines,
    StrictInt,
    Text,
    UtcDateTime,
    check_attributes,
    check_raw_data,
    items,
)
from .limits import MAX_DEPTH
from .replies import LONG_DIGITS
from .severity import ACTIONS, DEFAULT_SEVERITY, SEVERITIES, STATUSES

SCOPES = ("read", "write", "admin")


class BadInput(ValueError):
    """A body or message that cannot be accepted; ``errors`` maps field names to messages."""

    def __init__(self, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class _Body(Schema):
    class Meta:
        unknown = EXCLUDE  # Alerta ignores fields it does not know (href, history, customer ...)

    @pre_load
    def _object_only(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError("body must be a JSON object", "_schema")
        return data


class AlertSchema(_Body):
    """``POST /alert`` body and the ``alert`` wire message. Every field is bounded (shared/limits.py)."""

    resource = Line(lim.RESOURCE_CHARS, 1, required=True)
    event = Line(lim.EVENT_CHARS, 1, required=True)
    environment = Line(lim.ENVIRONMENT_CHARS, load_default="", allow_none=True)
    severity = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SEVERITIES))
    correlate = Lines(lim.CORRELATE_ITEMS, lim.CORRELATE_CHARS)
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATUSES))
    service = Lines(lim.SERVICE_ITEMS, lim.SERVICE_CHARS)
    group = Line(lim.GROUP_CHARS, load_default=None, allow_none=True)
    value = Text(max_chars=lim.VALUE_CHARS, load_default=None, allow_none=True)
    text = Text(max_chars=lim.TEXT_CHARS, load_default=None, allow_none=True)
    tags = Lines(lim.TAG_ITEMS, lim.TAG_CHARS)
    attributes = fields.Dict(keys=fields.String(), load_default=None, allow_none=True,
                             validate=items(lim.ATTRIBUTE_KEYS))
    origin = Line(lim.ORIGIN_CHARS, load_default=None, allow_none=True)
    type = Line(lim.TYPE_CHARS, load_default=None, allow_none=True)
    createTime = UtcDateTime(load_default=None, allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))
    rawData = fields.Raw(load_default=None, allow_none=True)
    customer = Line(lim.GROUP_CHARS, load_default=None, allow_none=True)  # set by the gateway (shared/customers)

    @validates("attributes")
    def _attributes(self, value: dict[str, Any] | None, **kwargs: Any) -> None:
        check_attributes(value)

    @validates("rawData")
    def _raw_data(self, value: Any, **kwargs: Any) -> None:
        check_raw_data(value)

    @post_load
    def _defaults(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        timeout = data.get("timeout")
        return {
            "resource": data["resource"],
            "event": data["event"],
            "environment": data.get("environment") or "",
            "severity": data.get("severity") or DEFAULT_SEVERITY,
            "correlate": data.get("correlate") or [],
            "status": data.get("status") or None,
            "service": data.get("service") or [],
            "group": data.get("group") or "Misc",
            "value": data.get("value"),  # Alerta: null when not sent
            "text": data.get("text") or "",
            "tags": data.get("tags") or [],
            "attributes": data.get("attributes") or {},
            "origin": data.get("origin") or None,
            "type": data.get("type") or "exceptionAlert",
            "createTime": data.get("createTime"),
            "timeout": timeout,
            "rawData": data.get("rawData"),
            "customer": data.get("customer") or None,
        }


class HeartbeatSchema(_Body):
    """``POST /heartbeat`` body and the ``heartbeat`` wire message."""

    origin = Line(lim.ORIGIN_CHARS, load_default=None, allow_none=True)
    tags = Lines(lim.TAG_ITEMS, lim.TAG_CHARS)
    attributes = fields.Dict(keys=fields.String(), load_default=None, allow_none=True,
                             validate=items(lim.ATTRIBUTE_KEYS))
    createTime = UtcDateTime(load_default=None, allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))
    customer = Line(lim.GROUP_CHARS, load_default=None, allow_none=True)

    @validates("attributes")
    def _attributes(self, value: dict[str, Any] | None, **kwargs: Any) -> None:
        check_attributes(value)

    @post_load
    def _defaults(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {
            "customer": data.get("customer") or None,
            "origin": data.get("origin") or None,
            "tags": data.get("tags") or [],
            "attributes": data.get("attributes") or {},
            "createTime": data.get("createTime"),
            "timeout": data.get("timeout"),
        }


ALERT_SCHEMA = AlertSchema()
HEARTBEAT_SCHEMA = HeartbeatSchema()


def describe(errors: Any) -> str:
    """One readable sentence naming the offending fields of a marshmallow error dict."""
    if isinstance(errors, dict):
        parts = []
        for name, problem in errors.items():
            text = describe(problem)
            if name == "_schema":
                parts.append(text)
            else:  # a list's items are numbered: "tags: item 3: ..."
                parts.append(f"item {name}: {text}" if isinstance(name, int) else f"{name}: {text}")
        return "; ".join(parts)
    if isinstance(errors, list):
        return " ".join(describe(item) for item in errors)
    return str(errors)


def load_body(schema: Schema, payload: Any) -> dict[str, Any]:
    """Validate one decoded JSON body; raise ``BadInput`` naming every problem."""
    try:
        result: dict[str, Any] = schema.load(payload)
    except ValidationError as exc:
        raise BadInput(describe(exc.messages), exc.messages) from None
    return result


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259): stored, they would be echoed to clients that cannot parse them.
    raise ValueError(f"{name} is not a JSON value")


def parse_json(raw: bytes) -> Any:
    """Decode a body. Nesting is bounded by the decoder itself: it raises ``RecursionError`` at the
    interpreter's recursion limit (about 1,000 levels), which costs nothing on the way; the schemas then
    bound the nesting of what is kept (``MAX_DEPTH``). orjson first (a fifth of the CPU); whatever it refuses
    goes to the standard library, whose answer (the value, or the error) is the one given, as before: orjson
    is stricter (UTF-8 only, 1,024 levels, no lone surrogates), never looser — but for integers beyond 64 bits,
    which it reads as floats: a body with such a run of digits goes to the standard library at once."""
    if LONG_DIGITS.search(raw) is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadInput(f"body is nested too deeply (attributes and rawData may nest {MAX_DEPTH} levels)") from None


# -- commands, users, keys ---------------------------------------------------------------------------

class StatusBody(_Body):
    """``PUT|POST /alert/{id}/status``"""

    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    text = Text(max_chars=lim.TEXT_CHARS, load_default="", allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))


class ActionBody(_Body):
    """``PUT /alert/{id}/action``"""

    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    text = Text(max_chars=lim.TEXT_CHARS, load_default=None, allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))


class TagsBody(_Body):
    """``PUT|POST /alert/{id}/tag`` and ``/untag``"""

    tags = fields.List(Line(lim.TAG_CHARS, 1), required=True, validate=items(lim.TAG_ITEMS, 1))


class CommandMessage(_Body):
    """The ``command`` wire message: one operation on one stored alert (or heartbeat)."""

    op = fields.String(required=True, validate=validate.OneOf(OPERATIONS))
    id = Line(128, 1, required=True)
    # Routing only, as the stored alert has them: not held to the one-line rule, so that an alert stored
    # before that rule can still be acted on.
    environment = Text(max_chars=lim.ENVIRONMENT_CHARS, load_default="")
    resource = Text(max_chars=lim.RESOURCE_CHARS, load_default="")
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATUSES))
    action = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ACTIONS))
    text = Text(max_chars=lim.TEXT_CHARS, load_default=None, allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))
    tags = Lines(lim.TAG_ITEMS, lim.TAG_CHARS)
    note = Line(128, 1, load_default=None, allow_none=True)  # the note a note-update or note-delete names
    attributes = fields.Dict(keys=fields.String(), load_default=None, allow_none=True,
                             validate=items(lim.ATTRIBUTE_KEYS))
    # Set by the gateway from the caller's key; not held to today's bounds (a key's user may predate them):
    # the history entry keeps at most USER_CHARS of it (shared/limits.py bounded_user).
    user = Text(load_default=None, allow_none=True)
    # The customers of the gateway's caller (None: all): the worker acts only on an alert of one of them.
    customers = fields.List(Text(max_chars=lim.GROUP_CHARS), load_default=None, allow_none=True,
                            validate=items(1000))
    # Guards (housekeeping's commands): applied only while the alert is as the sender saw it, so that a
    # repeated or late command is skipped instead of applied twice (see shared.commands.guard_holds).
    ifLastReceiveTime = UtcDateTime(load_default=None, allow_none=True)
    ifStatus = fields.List(fields.String(validate=validate.OneOf(STATUSES)), load_default=None, allow_none=True,
                           validate=items(len(STATUSES)))

    @validates("attributes")
    def _attributes(self, value: dict[str, Any] | None, **kwargs: Any) -> None:
        check_attributes(value)

    @post_load
    def _needs(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        needed = {"status": "status", "action": "action", "tag": "tags", "untag": "tags", "note": "text",
                  "note-update": "note", "note-delete": "note", "attributes": "attributes"}.get(data["op"])
        if needed and not data.get(needed):
            raise ValidationError(f"the {data['op']} command needs '{needed}'", needed)
        return data


STATUS_BODY = StatusBody()
ACTION_BODY = ActionBody()
TAGS_BODY = TagsBody()
COMMAND_MESSAGE = CommandMessage()
