"""The bodies of the account routes (users with login, permissions, groups, keys): one schema per body, every
field bounded as the alert's are (shared/limits.py), a lone surrogate or a control character refused by name."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates

from . import limits as lim
from .fieldtypes import Line, Text, UtcDateTime, chars, check_attributes, items
from .schemas import _Body
from .scopes import SCOPES

PASSWORD_CHARS = 1024  # argon2 takes any length; a bound keeps one login from hashing megabytes
ROLE_ITEMS = 64
USER_STATUSES = ("active", "inactive")
KEY_TYPES = ("read-only", "read-write")


def Scopes(**kwargs: Any) -> fields.List[Any]:
    """A list of Alerta's scopes (an unknown one is a 400 naming it)."""
    return fields.List(fields.String(validate=validate.OneOf(SCOPES)), validate=items(lim.SCOPE_ITEMS), **kwargs)


def Roles(**kwargs: Any) -> fields.List[Any]:
    return fields.List(Line(lim.USER_CHARS, 1), validate=items(ROLE_ITEMS), **kwargs)


class _Attributes(Schema):
    @validates("attributes")
    def _attributes(self, value: dict[str, Any] | None, **kwargs: Any) -> None:
        check_attributes(value)


class _UserFields(_Body, _Attributes):
    """A user's fields, each optional, as a new user and a change both take them (in this order: a body's problems
    are named in it)."""

    name = Line(lim.USER_CHARS, 1, load_default=None, allow_none=True)
    login = Line(lim.USER_CHARS, 1, load_default=None, allow_none=True)
    email = fields.Email(load_default=None, allow_none=True, validate=chars(lim.USER_CHARS))
    password = Text(max_chars=PASSWORD_CHARS, load_default=None, allow_none=True)
    status = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(USER_STATUSES))
    roles = Roles(load_default=None, allow_none=True)
    text = Text(max_chars=lim.KEY_TEXT_CHARS, load_default=None, allow_none=True)
    attributes = fields.Dict(keys=fields.String(), load_default=None, allow_none=True,
                             validate=items(lim.ATTRIBUTE_KEYS))
    email_verified = fields.Boolean(load_default=None, allow_none=True)


class WhiteListBody(_Body):
    """``POST /user`` (v3: an e-mail address white-listed by a sponsor)"""

    user = fields.Email(required=True, validate=chars(lim.USER_CHARS))
    sponsor = Line(lim.USER_CHARS, load_default=None, allow_none=True)


class NewUserBody(_UserFields):
    """``POST /user`` (today's shape), ``POST /auth/signup``: a login is ``login`` or else ``email``; the name
    defaults to the login (the ``alerta`` client sends ``null`` without ``--name``)."""

    @validates("email")
    def _email_unicode(self, value: str | None, **kwargs: Any) -> None:
        if value is not None and not value.isascii():
            Line(lim.USER_CHARS).deserialize(value)  # a surrogate or a line break is refused by name

    @pre_load
    def _needs_login(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and not data.get("login") and not data.get("email"):
            raise ValidationError("a user needs a 'login' or an 'email'", "login")
        return data


class UserUpdateBody(_UserFields):
    """``PUT /user/{id}``, ``PUT /user/me``: what is named changes; ``null`` (and an empty role list, which the
    ``alerta`` client sends when no role is given) changes nothing. A new password is never empty."""

    password = Text(max_chars=PASSWORD_CHARS, min_chars=1, load_default=None, allow_none=True)


class AttributesBody(_Body, _Attributes):
    """``PUT /user/{id}/attributes``: merged; a ``null`` value deletes the key."""

    attributes = fields.Dict(keys=fields.String(), required=True, validate=items(lim.ATTRIBUTE_KEYS))


class PermBody(_Body):
    """``POST /perm``; ``PUT /perm/{id}`` (then both are optional)."""

    match = Line(lim.USER_CHARS, 1, load_default=None, allow_none=True)
    scopes = Scopes(load_default=None, allow_none=True)


class GroupBody(_Body):
    """``POST /group``; ``PUT /group/{id}``."""

    name = Line(lim.USER_CHARS, 1, load_default=None, allow_none=True)
    text = Text(max_chars=lim.KEY_TEXT_CHARS, load_default=None, allow_none=True)


class KeyBody(_Body):
    """``POST /key``: ``key`` imports a key of the caller's choosing (stored hashed like any other)."""

    user = Line(lim.USER_CHARS, 1, load_default=None, allow_none=True)
    text = Text(max_chars=lim.KEY_TEXT_CHARS, load_default=None, allow_none=True)
    scopes = Scopes(load_default=None, allow_none=True)
    type = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(KEY_TYPES))
    expireTime = UtcDateTime(load_default=None, allow_none=True)
    customer = Line(lim.USER_CHARS, load_default=None, allow_none=True)
    key = Line(lim.USER_CHARS, 1, load_default=None, allow_none=True)


class KeyUpdateBody(_Body):
    """``PUT /key/{id}``: ``null`` keeps a field."""

    scopes = Scopes(load_default=None, allow_none=True)
    text = Text(max_chars=lim.KEY_TEXT_CHARS, load_default=None, allow_none=True)
    expireTime = UtcDateTime(load_default=None, allow_none=True)
    customer = Line(lim.USER_CHARS, load_default=None, allow_none=True)


WHITE_LIST_BODY = WhiteListBody()
NEW_USER_BODY = NewUserBody()
USER_UPDATE_BODY = UserUpdateBody()
ATTRIBUTES_BODY = AttributesBody()
PERM_BODY = PermBody()
GROUP_BODY = GroupBody()
NEW_KEY_BODY = KeyBody()
KEY_UPDATE_BODY = KeyUpdateBody()
