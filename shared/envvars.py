"""Reading configuration variables: each reader takes the environment, the variable's name and its default, and
raises ``SettingsError`` naming the variable for a value that cannot be used (nothing falls back silently)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

import re2

from .rules import operator_regex


class SettingsError(ValueError):
    """A configuration variable has a value that cannot be used."""


def text(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, default).strip() or default


def integer(env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise SettingsError(f"{name} must be {bound}, got {value}")
    return value


def number(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def items(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def redact_url(url: str) -> str:
    """A URL fit for a message or a log line: its password (and anything unparseable) hidden."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")
        return parts._replace(netloc=f"{parts.username or ''}:***@{netloc[2]}").geturl()
    except ValueError:
        return "<unparseable URL>"


def url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = text(env, name, default)
    try:
        scheme = urlsplit(value).scheme
    except ValueError:
        scheme = ""
    if scheme not in schemes:
        raise SettingsError(f"{name} must be a URL with scheme {' or '.join(schemes)}, got {redact_url(value)!r}")
    return value


def regexes(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    patterns = items(env, name, default)
    for pattern in patterns:
        try:
            operator_regex(pattern)  # matched against what clients send: RE2, linear time
        except re2.error as exc:
            raise SettingsError(f"{name} has a regular expression RE2 cannot use {pattern!r}: {exc}") from None
    return patterns


def public_url(env: Mapping[str, str]) -> str:
    value = env.get("PUBLIC_URL", "").strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(f"PUBLIC_URL must be an http(s) URL without query, like https://alerts.example.com, "
                            f"got {value!r}")
    return value


def networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    networks = items(env, name, ())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(f"{name} must list IP addresses or networks (CIDR), got {network!r}") from None
    return networks
