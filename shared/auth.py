"""API-key authentication. Keys are stored only as SHA-256 hashes; lookups are cached briefly in memory so
that authenticating a request does not cost a database round-trip."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .store import Store

SCOPES = ("read", "write", "admin")
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Principal:
    user: str
    scopes: frozenset[str]
    key_id: str | None = None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


ANONYMOUS = Principal("anonymous", frozenset(SCOPES))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def presented_key(request: web.Request) -> str | None:
    """The key a request carries: ``Authorization: Key k``, ``X-API-Key: k`` or ``?api-key=k``."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "key" and value.strip() else ""
    return request.headers.get("X-API-Key") or request.query.get("api-key")


class KeyRing:
    def __init__(self, store: Store, admin_key: str = "") -> None:
        self.keys = store.db["keys"]
        self.admin_hash = hash_key(admin_key) if admin_key else ""
        self.cache: dict[str, tuple[float, Principal | None]] = {}

    async def bootstrap(self) -> None:
        """Make sure the ``ADMIN_KEY`` exists as an admin key (idempotent)."""
        await self.keys.create_index("hash", unique=True, name="hash")
        if not self.admin_hash:
            return
        await self.keys.update_one(
            {"hash": self.admin_hash},
            {"$setOnInsert": {
                "_id": str(uuid.uuid4()), "hash": self.admin_hash, "prefix": "admin",
                "user": "admin", "scopes": list(SCOPES), "text": "bootstrap admin key (ADMIN_KEY)",
                "expireTime": None, "count": 0, "lastUsedTime": None,
            }},
            upsert=True,
        )

    async def authenticate(self, key: str) -> Principal | None:
        digest = hash_key(key)
        if self.admin_hash and hmac.compare_digest(digest, self.admin_hash):
            return Principal("admin", frozenset(SCOPES))
        cached = self.cache.get(digest)
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        doc = await self.keys.find_one({"hash": digest})
        principal = _principal(doc)
        self.cache[digest] = (now + CACHE_SECONDS, principal)
        return principal

    def forget(self, digest: str | None = None) -> None:
        if digest is None:
            self.cache.clear()
        else:
            self.cache.pop(digest, None)


def _principal(doc: dict[str, Any] | None) -> Principal | None:
    if doc is None:
        return None
    expires = doc.get("expireTime")
    if expires is not None and expires <= datetime.now(UTC):
        return None
    return Principal(doc.get("user", ""), frozenset(doc.get("scopes") or ()), doc.get("_id"))
