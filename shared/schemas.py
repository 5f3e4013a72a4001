"""Marshmallow schemas for every HTTP body and wire message. Used at the edges only.

The gateway ``load``s a request body, ``dump``s the normalised result onto the wire; the ingest worker
``load``s the wire message again (direct RabbitMQ publishers skip the gateway, so the worker cannot trust
its input either).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

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

from .commands import OPERATIONS
from .severity import ACTIONS, DEFAULT_SEVERITY, SEVERITIES, STATUSES

SCOPES = ("read", "write", "admin")

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 32


class BadInput(ValueError):
    """A body or message that cannot be accepted; ``errors`` maps field names to messages."""

    def __init__(self, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


def _check_storable(value: Any, path: str, depth: int = 0) -> None:
    """Reject what the database cannot store (integers beyond 64 bits, NUL in a key, absurd nesting)."""
    if depth > MAX_DEPTH:
        raise ValidationError(f"{path} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValidationError(f"{path} holds an integer outside the 64-bit range")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:  # BSON keys are NUL-terminated: the document could never be written
                raise ValidationError(f"{path} has a key with a NUL character")
            _check_storable(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_storable(item, f"{path}[{index}]", depth + 1)


class StrictInt(fields.Integer):
    """An integer that must be a JSON integer (not a float, string or boolean)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Text(fields.String):
    """A string; numbers are accepted and turned into their text, as Alerta's clients send them."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = json.dumps(value)
        return super()._deserialize(value, attr, data, **kwargs)


class UtcDateTime(fields.DateTime):
    """ISO 8601 date-time; naive values are taken as UTC; output is ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        parsed: datetime = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else isoformat(value)


def isoformat(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class _Body(Schema):
    class Meta:
        unknown = EXCLUDE  # Alerta ignores fields it does not know (href, history, customer ...)

    @pre_load
    def _object_only(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError("body must be a JSON object", "_schema")
        return data


class AlertSchema(_Body):
    """``POST /alert`` body and the ``alert`` wire message."""

    resource = Text(required=True, validate=validate.Length(min=1, max=1024))
    event = Text(required=True, validate=validate.Length(min=1, max=1024))
    environment = Text(load_default="", allow_none=True, validate=validate.Length(max=256))
    severity = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SEVERITIES))
    correlate = fields.List(Text(), load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATUSES))
    service = fields.List(Text(), load_default=None, allow_none=True)
    group = Text(load_default=None, allow_none=True)
    value = Text(load_default=None, allow_none=True)
    text = Text(load_default=None, allow_none=True)
    tags = fields.List(Text(), load_default=None, allow_none=True)
    attributes = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)
    origin = Text(load_default=None, allow_none=True)
    type = Text(load_default=None, allow_none=True)
    createTime = UtcDateTime(load_default=None, allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))
    rawData = fields.Raw(load_default=None, allow_none=True)

    @validates("attributes")
    def _attribute_keys(self, value: dict[str, Any] | None, **kwargs: Any) -> None:
        if not value:
            return
        if any("." in key or "$" in key or not key for key in value):
            raise ValidationError('attribute keys must not be empty or contain "." or "$"')
        _check_storable(value, "attributes")

    @validates("rawData")
    def _raw_data(self, value: Any, **kwargs: Any) -> None:
        _check_storable(value, "rawData")

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
            "value": data.get("value") or "n/a",
            "text": data.get("text") or "",
            "tags": data.get("tags") or [],
            "attributes": data.get("attributes") or {},
            "origin": data.get("origin") or None,
            "type": data.get("type") or "exceptionAlert",
            "createTime": data.get("createTime"),
            "timeout": timeout,
            "rawData": data.get("rawData") if data.get("rawData") is not None else "",
        }


class HeartbeatSchema(_Body):
    """``POST /heartbeat`` body and the ``heartbeat`` wire message."""

    origin = Text(load_default=None, allow_none=True, validate=validate.Length(max=1024))
    tags = fields.List(Text(), load_default=None, allow_none=True)
    attributes = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)
    createTime = UtcDateTime(load_default=None, allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))

    @validates("attributes")
    def _attribute_keys(self, value: dict[str, Any] | None, **kwargs: Any) -> None:
        if value and any("." in key or "$" in key or not key for key in value):
            raise ValidationError('attribute keys must not be empty or contain "." or "$"')
        _check_storable(value, "attributes")

    @post_load
    def _defaults(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {
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
            parts.append(text if name == "_schema" else f"{name}: {text}")
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


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"body is not valid JSON: {exc}") from None


def to_wire(schema: Schema, data: dict[str, Any]) -> bytes:
    """The normalised body as it travels on the broker (JSON, UTF-8)."""
    dumped = {key: value for key, value in schema.dump(data).items() if value is not None}
    return json.dumps(dumped, separators=(",", ":")).encode()


# -- commands, users, keys ---------------------------------------------------------------------------

class StatusBody(_Body):
    """``PUT|POST /alert/{id}/status``"""

    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    text = Text(load_default="", allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))


class ActionBody(_Body):
    """``PUT /alert/{id}/action``"""

    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    text = Text(load_default=None, allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))


class TagsBody(_Body):
    """``PUT|POST /alert/{id}/tag`` and ``/untag``"""

    tags = fields.List(Text(validate=validate.Length(min=1, max=1024)), required=True,
                       validate=validate.Length(min=1, max=1000))


class CommandMessage(_Body):
    """The ``command`` wire message: one operation on one stored alert (or heartbeat)."""

    op = fields.String(required=True, validate=validate.OneOf(OPERATIONS))
    id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    environment = Text(load_default="")
    resource = Text(load_default="")
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATUSES))
    action = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ACTIONS))
    text = Text(load_default=None, allow_none=True)
    timeout = StrictInt(load_default=None, allow_none=True, validate=validate.Range(min=0, max=10**9))
    tags = fields.List(Text(), load_default=None, allow_none=True)
    user = Text(load_default=None, allow_none=True)
    # Guards (housekeeping's commands): applied only while the alert is as the sender saw it, so that a
    # repeated or late command is skipped instead of applied twice (see shared.commands.guard_holds).
    ifLastReceiveTime = UtcDateTime(load_default=None, allow_none=True)
    ifStatus = fields.List(fields.String(validate=validate.OneOf(STATUSES)), load_default=None, allow_none=True)

    @post_load
    def _needs(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        needed = {"status": "status", "action": "action", "tag": "tags", "untag": "tags"}.get(data["op"])
        if needed and not data.get(needed):
            raise ValidationError(f"the {data['op']} command needs '{needed}'", needed)
        return data


class UserBody(_Body):
    """``POST /user`` (v3: an e-mail address white-listed by a sponsor)"""

    user = fields.Email(required=True)
    sponsor = Text(load_default=None, allow_none=True, validate=validate.Length(max=256))


class KeyBody(_Body):
    """``POST /key``"""

    user = Text(load_default=None, allow_none=True, validate=validate.Length(min=1, max=256))
    text = Text(load_default=None, allow_none=True, validate=validate.Length(max=1024))
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), load_default=None, allow_none=True)
    expireTime = UtcDateTime(load_default=None, allow_none=True)
    key = fields.Raw(load_default=None, allow_none=True)

    @validates("key")
    def _no_chosen_keys(self, value: Any, **kwargs: Any) -> None:
        if value is not None:
            raise ValidationError("keys are generated by the server; do not send one")


STATUS_BODY = StatusBody()
ACTION_BODY = ActionBody()
TAGS_BODY = TagsBody()
COMMAND_MESSAGE = CommandMessage()
USER_BODY = UserBody()
KEY_BODY = KeyBody()
