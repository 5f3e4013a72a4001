"""Users with a login (collection ``user_accounts``; the v3 e-mail white-list keeps ``users``), permissions (role
→ scopes, ``perms``), groups of users (``groups``, members by user id) and failed logins (``login_failures``).

Configuration, not alerts: the gateway reads and writes these straight, as it does keys.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .accounts import AlreadyExists
from .core import Store


class Users:
    def __init__(self, store: Store) -> None:
        db = store.db
        self.users, self.perms, self.groups = db["user_accounts"], db["perms"], db["groups"]
        self.failures = db["login_failures"]

    async def ensure_indexes(self) -> None:
        await self.users.create_index("login", unique=True, name="login")
        await self.users.create_index("email", name="user_email")
        await self.perms.create_index("match", unique=True, name="match")
        await self.groups.create_index("name", unique=True, name="group_name")
        await self.groups.create_index("users", name="group_users")
        # A failed login of a name nobody has leaves a document too: each goes when its window has passed.
        await self.failures.create_index("expiresAt", expireAfterSeconds=0, name="failure_expiry")

    # -- users ----------------------------------------------------------------------------------

    async def insert(self, doc: dict[str, Any]) -> None:
        try:
            await self.users.insert_one(doc)
        except DuplicateKeyError:
            raise AlreadyExists(doc["login"]) from None

    async def ensure(self, doc: dict[str, Any]) -> bool:
        """Store ``doc`` unless a user of its login exists (bootstrap: idempotent, safe for several processes at
        once). True when it was stored now."""
        try:
            result = await self.users.update_one({"login": doc["login"]}, {"$setOnInsert": doc}, upsert=True)
        except DuplicateKeyError:  # another process stored it at the same moment
            return False
        return result.upserted_id is not None

    async def by_id(self, user_id: str) -> dict[str, Any] | None:
        return await self.users.find_one({"_id": user_id})

    async def by_login(self, login: str) -> dict[str, Any] | None:
        return await self.users.find_one({"login": login})

    async def by_username(self, name: str) -> dict[str, Any] | None:
        """A username is a login or an e-mail address (Alerta's rule)."""
        return await self.users.find_one({"$or": [{"login": name}, {"email": name}]})

    async def by_email(self, email: str) -> dict[str, Any] | None:
        return await self.users.find_one({"email": email})

    async def count(self, query: dict[str, Any] | None = None) -> int:
        return await self.users.count_documents(query or {})

    async def page(self, skip: int, limit: int, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.users.find(query or {}).sort([("createTime", 1), ("_id", 1)])
        return await cursor.skip(skip).limit(limit).to_list(None)

    async def by_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        return await self.users.find({"_id": {"$in": ids}}).sort("createTime", 1).to_list(None)

    async def update(self, user_id: str, changes: dict[str, Any],
                     unset: tuple[str, ...] = ()) -> dict[str, Any] | None:
        update: dict[str, Any] = {"$set": changes}
        if unset:
            update["$unset"] = {name: "" for name in unset}
        try:
            return await self.users.find_one_and_update({"_id": user_id}, update,
                                                        return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            raise AlreadyExists(changes.get("login", user_id)) from None

    async def delete(self, user_id: str) -> bool:
        if (await self.users.delete_one({"_id": user_id})).deleted_count != 1:
            return False
        await self.groups.update_many({"users": user_id}, {"$pull": {"users": user_id}})
        return True

    # -- permissions ----------------------------------------------------------------------------

    async def add_perm(self, doc: dict[str, Any]) -> None:
        try:
            await self.perms.insert_one(doc)
        except DuplicateKeyError:
            raise AlreadyExists(doc["match"]) from None

    async def perm(self, perm_id: str) -> dict[str, Any] | None:
        return await self.perms.find_one({"_id": perm_id})

    async def list_perms(self) -> list[dict[str, Any]]:
        return await self.perms.find({}).sort("match", 1).to_list(None)

    async def perms_of(self, matches: list[str]) -> dict[str, list[str]]:
        """The stored scopes of each of ``matches`` (roles and group names) that has a permission."""
        found = await self.perms.find({"match": {"$in": matches}}).to_list(None)
        return {doc["match"]: list(doc.get("scopes") or []) for doc in found}

    async def update_perm(self, perm_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return await self.perms.find_one_and_update({"_id": perm_id}, {"$set": changes},
                                                        return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            raise AlreadyExists(changes.get("match", perm_id)) from None

    async def delete_perm(self, perm_id: str) -> bool:
        return (await self.perms.delete_one({"_id": perm_id})).deleted_count == 1

    # -- groups ---------------------------------------------------------------------------------

    async def add_group(self, doc: dict[str, Any]) -> None:
        try:
            await self.groups.insert_one(doc)
        except DuplicateKeyError:
            raise AlreadyExists(doc["name"]) from None

    async def group(self, group_id: str) -> dict[str, Any] | None:
        return await self.groups.find_one({"_id": group_id})

    async def list_groups(self) -> list[dict[str, Any]]:
        return await self.groups.find({}).sort("name", 1).to_list(None)

    async def groups_of(self, user_id: str) -> list[dict[str, Any]]:
        return await self.groups.find({"users": user_id}).sort("name", 1).to_list(None)

    async def update_group(self, group_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return await self.groups.find_one_and_update({"_id": group_id}, {"$set": changes},
                                                         return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            raise AlreadyExists(changes.get("name", group_id)) from None

    async def delete_group(self, group_id: str) -> bool:
        return (await self.groups.delete_one({"_id": group_id})).deleted_count == 1

    async def set_member(self, group_id: str, user_id: str, member: bool) -> bool:
        change = {"$addToSet": {"users": user_id}} if member else {"$pull": {"users": user_id}}
        return (await self.groups.update_one({"_id": group_id}, change)).matched_count == 1

    # -- failed logins --------------------------------------------------------------------------

    async def failures_of(self, login: str) -> dict[str, Any] | None:
        return await self.failures.find_one({"_id": login})

    async def record_failure(self, login: str, now: datetime, window: float) -> None:
        """One more failure of ``login`` in its current window (a window older than ``window`` seconds starts
        again at this failure). Shared by every gateway process through the store."""
        since = now - timedelta(seconds=window)
        if await self.failures.find_one_and_update({"_id": login, "since": {"$gt": since}}, {"$inc": {"count": 1}}):
            return
        try:
            await self.failures.replace_one({"_id": login}, {"_id": login, "count": 1, "since": now,
                                                             "expiresAt": now + timedelta(seconds=window)},
                                            upsert=True)
        except DuplicateKeyError:  # another process started the window at the same moment
            await self.failures.update_one({"_id": login}, {"$inc": {"count": 1}})

    async def clear_failures(self, login: str) -> None:
        await self.failures.delete_one({"_id": login})
