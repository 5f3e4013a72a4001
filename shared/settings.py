"""Typed settings, built once from the environment (12-factor).

``Settings`` holds what every service reads (the broker, the store, authentication, logging) and one section per
concern: ``rules`` (what the services that accept alerts apply: gateway, hooks, ingest), and one per service,
``gateway``, ``ingest``, ``query`` and ``hooks``, each read by its service (the gateway also reads
``hooks.pagerduty_webhook_secret``, to let a signed PagerDuty webhook through to the hooks service). Each section
reads its own variables (``from_env``).

Names follow Alerta's where one exists (DATABASE_URL, AUTH_REQUIRED, ADMIN_KEY, ALLOWED_ENVIRONMENTS, ...).
A bad value raises ``SettingsError`` naming the variable; nothing falls back silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .envvars import SettingsError as SettingsError
from .envvars import boolean, integer, items, networks, number, public_url, regexes, text, url
from .envvars import redact_url as redact_url
from .limits import MAX_BLACKOUT_SECONDS
from .rules import Policy
from .severity import SEVERITIES
from .webhooks import FilterClause, parse_filter

Env = Mapping[str, str]


@dataclass(frozen=True)
class Rules:
    """What alerts and heartbeats must satisfy, and their defaults (gateway, hooks and ingest apply them)."""

    allowed_environments: tuple[str, ...] = ("Production", "Development")
    origin_blacklist: tuple[str, ...] = ()
    require_service: bool = True
    alert_timeout: int = 86400
    heartbeat_timeout: int = 86400
    heartbeat_max_latency_ms: int = 2000
    history_limit: int = 100
    blackout_duration: int = 3600  # seconds a blackout lasts when it names neither an end nor a duration
    notification_blackout: bool = False  # store alerts covered by a blackout with status blackout (not drop them)
    blackout_accept: tuple[str, ...] = ()  # severities a blackout does not suppress

    @classmethod
    def from_env(cls, env: Env) -> Rules:
        accept = items(env, "BLACKOUT_ACCEPT", ())
        unknown = [name for name in accept if name not in SEVERITIES]
        if unknown:
            raise SettingsError(f"BLACKOUT_ACCEPT names unknown severities: {', '.join(unknown)}")
        return cls(
            allowed_environments=regexes(env, "ALLOWED_ENVIRONMENTS", cls.allowed_environments),
            origin_blacklist=regexes(env, "ORIGIN_BLACKLIST", ()),
            require_service=boolean(env, "REQUIRE_SERVICE", True),
            alert_timeout=integer(env, "ALERT_TIMEOUT", 86400, 0),
            heartbeat_timeout=integer(env, "HEARTBEAT_TIMEOUT", 86400, 0),
            heartbeat_max_latency_ms=integer(env, "HEARTBEAT_MAX_LATENCY", 2000, 0),
            history_limit=integer(env, "HISTORY_LIMIT", 100, 1, 10000),
            blackout_duration=integer(env, "BLACKOUT_DURATION", 3600, 1, MAX_BLACKOUT_SECONDS),
            notification_blackout=boolean(env, "NOTIFICATION_BLACKOUT", False),
            blackout_accept=accept,
        )

    def policy(self) -> Policy:
        """The pre-receive policy of these rules (it compiles their patterns: build it once)."""
        return Policy(self.allowed_environments, self.origin_blacklist, self.require_service)


@dataclass(frozen=True)
class GatewaySettings:
    """The public entry point: its port, where it forwards, and how it builds its links and answers browsers."""

    port: int = 8080
    query_url: str = "http://127.0.0.1:8081"
    hooks_url: str = "http://127.0.0.1:8082"
    public_url: str = ""  # the gateway's public base URL for href, Location and /config's endpoint
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-Proto/-Host/-Prefix are believed
    cors_origins: tuple[str, ...] = ("*",)
    processes: int = 0  # gateway processes ``alertbus run`` starts on its port (0: one per core)

    @classmethod
    def from_env(cls, env: Env, query_port: int, hooks_port: int) -> GatewaySettings:
        return cls(
            port=port_of(env),
            query_url=url(env, "QUERY_URL", f"http://127.0.0.1:{query_port}", ("http", "https")),
            hooks_url=url(env, "HOOKS_URL", f"http://127.0.0.1:{hooks_port}", ("http", "https")).rstrip("/"),
            public_url=public_url(env),
            trusted_proxies=networks(env, "TRUSTED_PROXIES"),
            cors_origins=items(env, "CORS_ORIGINS", ("*",)),
            processes=integer(env, "GATEWAY_PROCESSES", 0, 0, 64),
        )


@dataclass(frozen=True)
class IngestSettings:
    """The ingest workers: how they take messages in, and their schedules (housekeeping, heartbeat watch)."""

    port: int = 0  # ``alertbus ingest``'s /metrics and health routes; off (0) unless set: several may share a host
    prefetch: int = 500
    batch_size: int = 500
    lanes: int = 2
    batch_wait_ms: int = 5
    housekeeping_interval: float = 60.0  # seconds between housekeeping runs; 0 turns the schedule off
    heartbeat_watch_interval: float = 60.0  # watch: longest sleep (at most 16 s), re-send of a failure; 0: off
    delete_expired_after: int = 7200  # seconds after which closed/expired alerts are deleted; 0: never
    delete_info_after: int = 43200  # seconds after which informational alerts are deleted; 0: never

    @classmethod
    def from_env(cls, env: Env) -> IngestSettings:
        return cls(
            port=integer(env, "INGEST_PORT", 0, 0, 65535),  # the container image sets 8083
            prefetch=integer(env, "INGEST_PREFETCH", 500, 1, 65535),
            batch_size=integer(env, "INGEST_BATCH_SIZE", 500, 1, 10000),
            lanes=integer(env, "INGEST_LANES", 2, 1, 256),
            batch_wait_ms=integer(env, "INGEST_BATCH_WAIT_MS", 5, 0, 10000),
            housekeeping_interval=number(env, "HOUSEKEEPING_INTERVAL", 60.0),
            heartbeat_watch_interval=number(env, "HEARTBEAT_WATCH_INTERVAL", 60.0),
            delete_expired_after=integer(env, "DELETE_EXPIRED_AFTER", 7200, 0),
            delete_info_after=integer(env, "DELETE_INFO_AFTER", 43200, 0),
        )


@dataclass(frozen=True)
class QuerySettings:
    """The read service."""

    port: int = 8081
    default_page_size: int = 50
    store_max_time_ms: int = 5000  # bound on every read query's running time in the store (503 beyond)

    @classmethod
    def from_env(cls, env: Env) -> QuerySettings:
        return cls(
            port=integer(env, "QUERY_PORT", port_of(env) + 1, 1, 65535),
            default_page_size=integer(env, "DEFAULT_PAGE_SIZE", 50, 1, 1000),
            store_max_time_ms=integer(env, "STORE_MAX_TIME_MS", 5000, 10, 3_600_000),
        )


@dataclass(frozen=True)
class HooksSettings:
    """The webhooks service: inbound webhooks and the PagerDuty notifier."""

    port: int = 8082
    pagerduty_webhook_secret: str = field(default="", repr=False)
    pagerduty_routing_key: str = field(default="", repr=False)
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    pagerduty_filter: tuple[FilterClause, ...] = ()
    pagerduty_max_attempts: int = 5
    pagerduty_retry_delay_ms: int = 1000
    pagerduty_replay_window: int = 600  # seconds a signed PagerDuty event id is remembered; older ones refused

    @classmethod
    def from_env(cls, env: Env) -> HooksSettings:
        routing_key = env.get("PAGERDUTY_ROUTING_KEY", "").strip()
        if any(c.isspace() for c in routing_key):
            raise SettingsError("PAGERDUTY_ROUTING_KEY must not contain white space")
        try:
            clauses = parse_filter(env.get("PAGERDUTY_FILTER", ""))
        except ValueError as exc:
            raise SettingsError(f"PAGERDUTY_FILTER: {exc}") from None
        return cls(
            port=integer(env, "HOOKS_PORT", port_of(env) + 2, 1, 65535),
            pagerduty_webhook_secret=env.get("PAGERDUTY_WEBHOOK_SECRET", "").strip(),
            pagerduty_routing_key=routing_key,
            pagerduty_events_url=url(env, "PAGERDUTY_EVENTS_URL", cls.pagerduty_events_url, ("http", "https")),
            pagerduty_filter=clauses,
            pagerduty_max_attempts=integer(env, "PAGERDUTY_MAX_ATTEMPTS", 5, 1, 100),
            pagerduty_retry_delay_ms=integer(env, "PAGERDUTY_RETRY_DELAY_MS", 1000, 1, 3_600_000),
            pagerduty_replay_window=integer(env, "PAGERDUTY_REPLAY_WINDOW", 600, 10, 86400),
        )


def port_of(env: Env) -> int:
    """``PORT``, the gateway's; the internal services' ports default to the next ones."""
    return integer(env, "PORT", 8080, 1, 65535)


SECTIONS = ("rules", "gateway", "ingest", "query", "hooks")


@dataclass(frozen=True)
class Settings:
    """What every service reads, and the sections (see the module's docstring)."""

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    broker_prefix: str = ""
    database_url: str = "mongodb://127.0.0.1:27017/alertbus"
    host: str = "127.0.0.1"  # the address every service binds
    auth_required: bool = True
    admin_key: str = field(default="", repr=False)
    admin_users: tuple[str, ...] = ()
    # Users with a login (shared/users.py, shared/tokens.py): the bootstrap admin's password, the tokens' signing
    # secret and life, self sign-up, and how many failed logins a login may have per window before a 429.
    admin_password: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    token_expire_days: int = 14
    signup_enabled: bool = False
    login_max_failures: int = 5
    login_failure_window: int = 300
    customer_views: bool = False  # multi-tenancy: a key (or token) bound to customers sees only theirs
    # Shared between the services of one installation: internal services (query, hooks) answer only callers
    # that present it, and it signs the services' broker messages (what a direct publisher cannot assert).
    service_secret: str = field(default="", repr=False)
    # The broker user the gateways (and the other services) publish as, when it is theirs alone: the ingest workers
    # take messages that RabbitMQ vouches came from it (``user_id``) without validating them again.
    gateway_broker_user: str = ""
    rpc_timeout: float = 10.0
    shards: int = 8  # the ingest queues: the topology every publisher and worker declares
    max_deliveries: int = 5
    max_body_bytes: int = 1024 * 1024  # of a request to the gateway or the hooks service
    max_backlog: int = 100_000  # messages waiting in the ingest queues beyond which writes get 503 (0: no bound)
    log_level: str = "INFO"
    log_format: str = "text"  # "json" in the container images: one JSON object per line
    data_dir: str = "./data"
    build_number: str = ""
    build_date: str = ""
    build_revision: str = ""
    rules: Rules = field(default_factory=Rules)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    query: QuerySettings = field(default_factory=QuerySettings)
    hooks: HooksSettings = field(default_factory=HooksSettings)

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = os.environ if env is None else env
        log_level = text(env, "LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {log_level!r}")
        log_format = text(env, "LOG_FORMAT", "text").lower()
        if log_format not in ("text", "json"):
            raise SettingsError(f"LOG_FORMAT must be json or text, got {log_format!r}")
        prefix = env.get("BROKER_PREFIX", "").strip()
        if prefix and not re.fullmatch(r"[A-Za-z0-9_.:-]+", prefix):
            raise SettingsError(f"BROKER_PREFIX may hold only letters, digits and _ . : -, got {prefix!r}")
        if prefix and prefix[-1] not in "._:-":  # "foo" gives foo.alertbus.ingest, not fooalertbus.ingest
            prefix += "."
        query, hooks = QuerySettings.from_env(env), HooksSettings.from_env(env)
        return cls(
            amqp_url=url(env, "AMQP_URL", cls.amqp_url, ("amqp", "amqps")),
            broker_prefix=prefix,
            database_url=url(env, "DATABASE_URL", cls.database_url, ("mongodb", "mongodb+srv")),
            host=text(env, "HOST", cls.host),
            auth_required=boolean(env, "AUTH_REQUIRED", True),
            admin_key=env.get("ADMIN_KEY", "").strip(),
            admin_users=items(env, "ADMIN_USERS", ()),
            admin_password=env.get("ADMIN_PASSWORD", ""),
            secret_key=env.get("SECRET_KEY", "").strip(),
            token_expire_days=integer(env, "TOKEN_EXPIRE_DAYS", 14, 1, 3650),
            signup_enabled=boolean(env, "SIGNUP_ENABLED", False),
            login_max_failures=integer(env, "LOGIN_MAX_FAILURES", 5, 1, 1000),
            login_failure_window=integer(env, "LOGIN_FAILURE_WINDOW", 300, 1, 86400),
            customer_views=boolean(env, "CUSTOMER_VIEWS", False),
            service_secret=env.get("SERVICE_SECRET", "").strip(),
            gateway_broker_user=env.get("GATEWAY_BROKER_USER", "").strip(),
            rpc_timeout=number(env, "RPC_TIMEOUT", 10.0, 0.1),
            shards=integer(env, "INGEST_SHARDS", 8, 1, 256),
            max_deliveries=integer(env, "MAX_DELIVERIES", 5, 1, 1000),
            max_body_bytes=integer(env, "MAX_BODY_BYTES", 1024 * 1024, 1024),
            max_backlog=integer(env, "MAX_BACKLOG", 100_000, 0),
            log_level=log_level,
            log_format=log_format,
            data_dir=text(env, "DATA_DIR", "./data"),
            build_number=env.get("BUILD_NUMBER", "").strip(),
            build_date=env.get("BUILD_DATE", "").strip(),
            build_revision=env.get("BUILD_REVISION", "").strip(),
            rules=Rules.from_env(env),
            gateway=GatewaySettings.from_env(env, query.port, hooks.port),
            ingest=IngestSettings.from_env(env),
            query=query,
            hooks=hooks,
        )

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes``: top-level fields by name, a section's fields as a dict under its name
        (``settings.with_(hooks={"port": 9000})``)."""
        for name in SECTIONS:
            if isinstance(changes.get(name), dict):
                changes[name] = replace(getattr(self, name), **changes[name])
        return replace(self, **changes)
