"""API keys: generation, hashing, authentication with a short in-memory cache, aggregated usage counting.

A key is 240 random bits, URL-safe. Only its SHA-256 hash is stored, so the keys collection holds no usable
key. Authenticating a request costs no database round-trip while the key is cached, and usage (``count``,
``lastUsedTime``) is added up in memory and flushed in one bulk write every few seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from .scopes import ADMIN_SCOPES
from .scopes import allows as scope_allows
from .store import StoreUnavailable
from .store.accounts import BOOTSTRAP_PREFIX, Accounts

log = logging.getLogger("alertbus.auth")

CACHE_SECONDS = 10.0
CACHE_ENTRIES = 10_000  # lookups remembered (valid and invalid keys alike), least recently used dropped first
KEY_BYTES = 30  # 240 bits
PREFIX_LENGTH = 8
DEFAULT_KEY_DAYS = 365


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a key's user (``key_id`` set) or a logged-in user (``user_id`` set, from a token).
    ``customers`` are the customers the principal is limited to (empty: none named)."""

    user: str
    scopes: frozenset[str]
    key_id: str | None = None
    # The customers this principal is bound to (a key's ``customer``, a token's ``customers`` claim); empty: all
    # customers. Applied only while CUSTOMER_VIEWS is on (services/gateway/customers.py ``bound``).
    customers: frozenset[str] = frozenset()
    user_id: str | None = None  # a logged-in user's id (a token's ``sub``); None for keys

    def allows(self, scope: str) -> bool:
        """Alerta's rule (shared/scopes.py): ``admin`` grants all, ``write`` every write and read, ``admin:x``
        ``write:x``, ``write:x`` ``read:x``."""
        return scope_allows(self.scopes, scope)


ANONYMOUS = Principal("anonymous", frozenset(ADMIN_SCOPES))


def hash_key(key: str) -> str:
    # surrogatepass: a header or query value may hold anything; such a key matches no stored hash.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def presented_key(request: web.Request) -> str | None:
    """The key a request carries: ``Authorization: Key k``, ``X-API-Key: k`` or ``?api-key=k``."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "key" and value.strip() else ""
    return request.headers.get("X-API-Key") or request.query.get("api-key")


def presented_token(request: web.Request) -> str | None:
    """The login token a request carries (``Authorization: Bearer <token>``), "" for the scheme without one, None
    for no token at all."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def key_document(key: str, user: str, scopes: list[str], text: str, expire: datetime | None,
                 now: datetime, customer: str | None = None) -> dict[str, Any]:
    return {
        "_id": str(uuid.uuid4()), "hash": hash_key(key), "prefix": key[:PREFIX_LENGTH], "user": user,
        "scopes": scopes, "text": text, "createTime": now,
        "expireTime": expire if expire is not None else now + timedelta(days=DEFAULT_KEY_DAYS),
        "count": 0, "lastUsedTime": None, "customer": customer,
    }


class KeyRing:
    def __init__(self, accounts: Accounts, admin_key: str = "", admin_users: tuple[str, ...] = ()) -> None:
        self.accounts = accounts
        self.admin_hash = hash_key(admin_key) if admin_key else ""
        self.admin_users = frozenset(admin_users)
        # Whose the ADMIN_KEY is: the first ADMIN_USERS login (the bootstrap admin user), else "admin".
        self.admin_login = admin_users[0] if admin_users else "admin"
        self.cache: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self.usage: dict[str, tuple[int, datetime]] = {}

    async def bootstrap(self) -> None:
        """Indexes, and the ``ADMIN_KEY`` stored (hashed) as the one bootstrap admin key: whatever ADMIN_KEY says
        now (a key from an earlier ADMIN_KEY is deleted, none is kept when it is unset); idempotent."""
        await self.accounts.ensure_indexes()
        doc = None
        if self.admin_hash:
            doc = key_document("", self.admin_login, list(ADMIN_SCOPES), "bootstrap admin key (ADMIN_KEY)", None,
                               datetime.now(UTC))
            doc.update(hash=self.admin_hash, prefix=BOOTSTRAP_PREFIX, expireTime=None)
        if await self.accounts.ensure_bootstrap_key(doc):
            log.warning("ADMIN_KEY changed: the bootstrap key of the earlier ADMIN_KEY was revoked")

    async def authenticate(self, key: str) -> Principal | None:
        """The key's principal (None: unknown, revoked or expired); raises ``StoreUnavailable`` only for a key
        this process has never looked up while the store cannot be reached."""
        digest = hash_key(key)
        if self.admin_hash and hmac.compare_digest(digest, self.admin_hash):
            return Principal(self.admin_login, frozenset(ADMIN_SCOPES))
        cached = self.cache.get(digest)
        if cached and cached[0] > time.monotonic():
            self.cache.move_to_end(digest)
            principal = cached[1]
        else:
            principal = await self._lookup(digest)
        if principal is not None and principal.key_id:
            count, _ = self.usage.get(principal.key_id, (0, datetime.now(UTC)))
            self.usage[principal.key_id] = (count + 1, datetime.now(UTC))
        return principal

    async def _lookup(self, digest: str) -> Principal | None:
        now = time.monotonic()
        try:
            doc = await self.accounts.key_by_hash(digest)
        except StoreUnavailable:
            cached = self.cache.get(digest)
            if cached is None:
                raise
            # A key looked up before keeps its last answer through a store outage (for another cache period at a
            # time, so that requests do not each wait for the store): producers go on sending alerts through a
            # database outage, which is what the broker in between is for.
            self._remember(digest, now + CACHE_SECONDS, cached[1])
            return cached[1]
        principal = self._principal(doc)
        expires = doc.get("expireTime") if doc else None
        ttl = CACHE_SECONDS
        if expires is not None:  # never cache a key past its expiry
            ttl = min(ttl, (expires - datetime.now(UTC)).total_seconds())
        self._remember(digest, now + ttl, principal)
        return principal

    def is_known(self, key: str) -> bool:
        """Is this key's lookup cached (so that checking it costs no store round-trip)?"""
        digest = hash_key(key)
        return digest == self.admin_hash or digest in self.cache

    def _remember(self, digest: str, until: float, principal: Principal | None) -> None:
        # Bounded: a client sending a new invalid key per request must not grow the process without end.
        self.cache[digest] = (until, principal)
        self.cache.move_to_end(digest)
        while len(self.cache) > CACHE_ENTRIES:
            self.cache.popitem(last=False)

    def _principal(self, doc: dict[str, Any] | None) -> Principal | None:
        if doc is None:
            return None
        expires = doc.get("expireTime")
        if expires is not None and expires <= datetime.now(UTC):
            return None
        scopes = set(doc.get("scopes") or ())
        if doc.get("user") in self.admin_users:
            scopes.add("admin")
        customer = doc.get("customer")
        return Principal(doc.get("user", ""), frozenset(scopes), doc.get("_id"),
                         frozenset({customer}) if isinstance(customer, str) and customer else frozenset())

    def forget(self, digest: str | None = None) -> None:
        """Drop cached lookups (all, or one key's) so that a revoked key stops working at once here."""
        if digest is None:
            self.cache.clear()
        else:
            self.cache.pop(digest, None)

    async def flush_usage(self) -> None:
        usage, self.usage = self.usage, {}
        try:
            await self.accounts.record_usage(usage)
        except Exception:
            for key_id, (count, last) in usage.items():  # keep the counts for the next flush
                previous, _ = self.usage.get(key_id, (0, last))
                self.usage[key_id] = (previous + count, last)
            raise
