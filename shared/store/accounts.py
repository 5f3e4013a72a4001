"""Users (the v3 e-mail white-list) and API keys. Keys are stored only as SHA-256 hashes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from .core import Store

BOOTSTRAP_PREFIX = "ADMIN_KEY"  # the listed "prefix" of the key made from ADMIN_KEY (never a real key's prefix)


class AlreadyExists(Exception):
    """A user (or key) with that identity is already stored."""


class Accounts:
    def __init__(self, store: Store) -> None:
        self.users = store.db["users"]
        self.keys = store.db["keys"]

    async def ensure_indexes(self) -> None:
        await self.users.create_index("user", unique=True, name="user")
        await self.keys.create_index("hash", unique=True, name="hash")
        await self.keys.create_index("user", name="key_user")

    # -- users ----------------------------------------------------------------------------------

    async def list_users(self) -> list[dict[str, Any]]:
        return await self.users.find({}, {"_id": 0}).sort("user", 1).to_list(None)

    async def add_user(self, user: str, sponsor: str, now: datetime) -> dict[str, Any]:
        doc = {"user": user, "sponsor": sponsor, "createTime": now}
        try:
            await self.users.insert_one(dict(doc))
        except DuplicateKeyError:
            raise AlreadyExists(user) from None
        return doc

    async def delete_user(self, user: str) -> bool:
        return (await self.users.delete_one({"user": user})).deleted_count == 1

    # -- keys -----------------------------------------------------------------------------------

    async def key_by_hash(self, digest: str) -> dict[str, Any] | None:
        return await self.keys.find_one({"hash": digest})

    async def list_keys(self, user: str | None = None, customer: str | None = None) -> list[dict[str, Any]]:
        query = {name: value for name, value in (("user", user), ("customer", customer)) if value is not None}
        return await self.keys.find(query).sort("createTime", 1).to_list(None)

    async def find_key(self, ident: str, digest: str) -> dict[str, Any] | None:
        """A key by id or by the key itself (given as its hash)."""
        return await self.keys.find_one({"$or": [{"_id": ident}, {"hash": digest}]})

    async def update_key(self, key_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        return await self.keys.find_one_and_update({"_id": key_id}, {"$set": changes},
                                                   return_document=ReturnDocument.AFTER)

    async def insert_key(self, doc: dict[str, Any]) -> None:
        """Store a new key; ``AlreadyExists`` when its hash is stored already (an imported key chosen twice)."""
        try:
            await self.keys.insert_one(doc)
        except DuplicateKeyError:
            raise AlreadyExists(doc["_id"]) from None

    async def ensure_bootstrap_key(self, doc: dict[str, Any] | None) -> int:
        """Make ``doc`` the one bootstrap key (``ADMIN_KEY``): stored unless its hash is already, and every other
        bootstrap key deleted — a changed or removed ADMIN_KEY must not leave the old one working. Returns how
        many old bootstrap keys were deleted."""
        keep = {} if doc is None else {"hash": {"$ne": doc["hash"]}}
        deleted = await self.keys.delete_many({"prefix": BOOTSTRAP_PREFIX, **keep})
        if doc is not None:  # its user follows ADMIN_USERS (the first login) when that changes
            rest = {name: value for name, value in doc.items() if name != "user"}
            try:
                await self.keys.update_one({"hash": doc["hash"]}, {"$setOnInsert": rest, "$set": {"user": doc["user"]}},
                                           upsert=True)
            except DuplicateKeyError:  # another gateway process inserted it at the same moment
                await self.keys.update_one({"hash": doc["hash"]}, {"$set": {"user": doc["user"]}})
        return deleted.deleted_count

    async def delete_key(self, ident: str, digest: str) -> dict[str, Any] | None:
        """Delete by id or by the key itself (given as its hash)."""
        return await self.keys.find_one_and_delete({"$or": [{"_id": ident}, {"hash": digest}]})

    async def record_usage(self, usage: dict[str, tuple[int, datetime]]) -> None:
        """Add aggregated use counts in one bulk write (not one write per request)."""
        if usage:
            await self.keys.bulk_write([
                UpdateOne({"_id": key_id}, {"$inc": {"count": count}, "$max": {"lastUsedTime": last}})
                for key_id, (count, last) in usage.items()
            ], ordered=False)
