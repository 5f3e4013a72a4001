"""Typed settings, built once from the environment (12-factor).

Names follow Alerta's where one exists (DATABASE_URL, AUTH_REQUIRED, ADMIN_KEY, ALLOWED_ENVIRONMENTS, ...).
A bad value raises ``SettingsError`` naming the variable; nothing falls back silently.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

import re2

from .rules import operator_regex
from .webhooks import FilterClause, parse_filter


class SettingsError(ValueError):
    """A configuration variable has a value that cannot be used."""


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, default).strip() or default


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
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


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
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


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
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


def _url(env: Mapping[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = _text(env, name, default)
    try:
        scheme = urlsplit(value).scheme
    except ValueError:
        scheme = ""
    if scheme not in schemes:
        raise SettingsError(f"{name} must be a URL with scheme {' or '.join(schemes)}, got {redact_url(value)!r}")
    return value


def _regexes(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    patterns = _list(env, name, default)
    for pattern in patterns:
        try:
            operator_regex(pattern)  # matched against what clients send: RE2, linear time
        except re2.error as exc:
            raise SettingsError(f"{name} has a regular expression RE2 cannot use {pattern!r}: {exc}") from None
    return patterns


def _public_url(env: Mapping[str, str]) -> str:
    value = env.get("PUBLIC_URL", "").strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingsError(f"PUBLIC_URL must be an http(s) URL without query, like https://alerts.example.com, "
                            f"got {value!r}")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    networks = _list(env, name, ())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(f"{name} must list IP addresses or networks (CIDR), got {network!r}") from None
    return networks


def _operations(env: Mapping[str, str]) -> dict[str, Any]:
    """Logs, the ingest worker's metrics/health port, the server-side schedules and the build manifest."""
    log_format = _text(env, "LOG_FORMAT", "text").lower()
    if log_format not in ("text", "json"):
        raise SettingsError(f"LOG_FORMAT must be json or text, got {log_format!r}")
    return {
        "log_format": log_format,
        # Off (0) unless set: several workers may run on one host. The container image sets 8083.
        "ingest_port": _int(env, "INGEST_PORT", 0, 0, 65535),
        "housekeeping_interval": _float(env, "HOUSEKEEPING_INTERVAL", 60.0),
        "heartbeat_watch_interval": _float(env, "HEARTBEAT_WATCH_INTERVAL", 60.0),
        "delete_expired_after": _int(env, "DELETE_EXPIRED_AFTER", 7200, 0),
        "delete_info_after": _int(env, "DELETE_INFO_AFTER", 43200, 0),
        "build_number": env.get("BUILD_NUMBER", "").strip(),
        "build_date": env.get("BUILD_DATE", "").strip(),
        "build_revision": env.get("BUILD_REVISION", "").strip(),
    }


def _pagerduty(env: Mapping[str, str]) -> dict[str, Any]:
    routing_key = env.get("PAGERDUTY_ROUTING_KEY", "").strip()
    if any(c.isspace() for c in routing_key):
        raise SettingsError("PAGERDUTY_ROUTING_KEY must not contain white space")
    try:
        clauses = parse_filter(env.get("PAGERDUTY_FILTER", ""))
    except ValueError as exc:
        raise SettingsError(f"PAGERDUTY_FILTER: {exc}") from None
    return {
        "pagerduty_webhook_secret": env.get("PAGERDUTY_WEBHOOK_SECRET", "").strip(),
        "pagerduty_routing_key": routing_key,
        "pagerduty_events_url": _url(env, "PAGERDUTY_EVENTS_URL", Settings.pagerduty_events_url, ("http", "https")),
        "pagerduty_filter": clauses,
        "pagerduty_max_attempts": _int(env, "PAGERDUTY_MAX_ATTEMPTS", 5, 1, 100),
        "pagerduty_retry_delay_ms": _int(env, "PAGERDUTY_RETRY_DELAY_MS", 1000, 1, 3_600_000),
    }


@dataclass(frozen=True)
class Settings:
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    broker_prefix: str = ""
    database_url: str = "mongodb://127.0.0.1:27017/alertbus"
    host: str = "127.0.0.1"
    port: int = 8080
    query_url: str = "http://127.0.0.1:8081"
    query_port: int = 8081
    hooks_port: int = 8082
    auth_required: bool = True
    admin_key: str = ""
    admin_users: tuple[str, ...] = ()
    allowed_environments: tuple[str, ...] = ("Production", "Development")
    origin_blacklist: tuple[str, ...] = ()
    require_service: bool = True
    history_limit: int = 100
    default_page_size: int = 50
    alert_timeout: int = 86400
    heartbeat_timeout: int = 86400
    heartbeat_max_latency_ms: int = 2000
    max_body_bytes: int = 1024 * 1024
    cors_origins: tuple[str, ...] = ("*",)
    rpc_timeout: float = 10.0
    shards: int = 8
    prefetch: int = 500
    batch_size: int = 500
    lanes: int = 1
    batch_wait_ms: int = 5
    max_deliveries: int = 5
    log_level: str = "INFO"
    log_format: str = "text"  # "json" in the container images: one JSON object per line
    ingest_port: int = 0  # the ingest worker's /metrics and health routes (``alertbus ingest``); 0: none
    housekeeping_interval: float = 60.0  # seconds between housekeeping runs; 0 turns the schedule off
    heartbeat_watch_interval: float = 60.0  # watch: longest sleep (at most 16 s), re-send of a failure; 0: off
    delete_expired_after: int = 7200  # seconds after which closed/expired alerts are deleted; 0: never
    delete_info_after: int = 43200  # seconds after which informational alerts are deleted; 0: never
    build_number: str = ""
    build_date: str = ""
    build_revision: str = ""
    data_dir: str = "./data"
    hooks_url: str = "http://127.0.0.1:8082"
    pagerduty_webhook_secret: str = ""
    pagerduty_routing_key: str = ""
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    pagerduty_filter: tuple[FilterClause, ...] = ()
    pagerduty_max_attempts: int = 5
    pagerduty_retry_delay_ms: int = 1000
    # Shared between the services of one installation: internal services (query, hooks) answer only callers
    # that present it, and it signs the gateway's broker messages (what a direct publisher cannot assert).
    service_secret: str = field(default="", repr=False)
    public_url: str = ""  # the gateway's public base URL for href, Location and /config's endpoint
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-Proto/-Host/-Prefix are believed
    store_max_time_ms: int = 5000  # bound on every read query's running time in the store (503 beyond)
    pagerduty_replay_window: int = 600  # seconds a signed PagerDuty event id is remembered; older ones refused

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        port = _int(env, "PORT", 8080, 1, 65535)
        query_port = _int(env, "QUERY_PORT", port + 1, 1, 65535)
        log_level = _text(env, "LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}")
        prefix = env.get("BROKER_PREFIX", "").strip()
        if prefix and not re.fullmatch(r"[A-Za-z0-9_.:-]+", prefix):
            raise SettingsError(f"BROKER_PREFIX may hold only letters, digits and _ . : -, got {prefix!r}")
        hooks_port = _int(env, "HOOKS_PORT", port + 2, 1, 65535)
        return cls(
            amqp_url=_url(env, "AMQP_URL", cls.amqp_url, ("amqp", "amqps")),
            broker_prefix=prefix,
            database_url=_url(env, "DATABASE_URL", cls.database_url, ("mongodb", "mongodb+srv")),
            host=_text(env, "HOST", cls.host),
            port=port,
            query_port=query_port,
            query_url=_url(env, "QUERY_URL", f"http://127.0.0.1:{query_port}", ("http", "https")),
            hooks_port=hooks_port,
            auth_required=_bool(env, "AUTH_REQUIRED", True),
            admin_key=env.get("ADMIN_KEY", "").strip(),
            admin_users=_list(env, "ADMIN_USERS", ()),
            allowed_environments=_regexes(env, "ALLOWED_ENVIRONMENTS", cls.allowed_environments),
            origin_blacklist=_regexes(env, "ORIGIN_BLACKLIST", ()),
            require_service=_bool(env, "REQUIRE_SERVICE", True),
            history_limit=_int(env, "HISTORY_LIMIT", 100, 1, 10000),
            default_page_size=_int(env, "DEFAULT_PAGE_SIZE", 50, 1, 1000),
            alert_timeout=_int(env, "ALERT_TIMEOUT", 86400, 0),
            heartbeat_timeout=_int(env, "HEARTBEAT_TIMEOUT", 86400, 0),
            heartbeat_max_latency_ms=_int(env, "HEARTBEAT_MAX_LATENCY", 2000, 0),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 1024 * 1024, 1024),
            cors_origins=_list(env, "CORS_ORIGINS", ("*",)),
            rpc_timeout=_float(env, "RPC_TIMEOUT", 10.0, 0.1),
            shards=_int(env, "INGEST_SHARDS", 8, 1, 256),
            prefetch=_int(env, "INGEST_PREFETCH", 500, 1, 65535),
            batch_size=_int(env, "INGEST_BATCH_SIZE", 500, 1, 10000),
            lanes=_int(env, "INGEST_LANES", 1, 1, 256),
            batch_wait_ms=_int(env, "INGEST_BATCH_WAIT_MS", 5, 0, 10000),
            max_deliveries=_int(env, "MAX_DELIVERIES", 5, 1, 1000),
            log_level=log_level,
            data_dir=_text(env, "DATA_DIR", "./data"),
            service_secret=env.get("SERVICE_SECRET", "").strip(),
            public_url=_public_url(env),
            trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
            store_max_time_ms=_int(env, "STORE_MAX_TIME_MS", 5000, 10, 3_600_000),
            pagerduty_replay_window=_int(env, "PAGERDUTY_REPLAY_WINDOW", 600, 10, 86400),
            hooks_url=_url(env, "HOOKS_URL", f"http://127.0.0.1:{hooks_port}", ("http", "https")).rstrip("/"),
            **_pagerduty(env),
            **_operations(env),
        )

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
