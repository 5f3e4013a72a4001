"""Customer lookups in the store (collection ``customers``): ``{_id, match, customer}``, as Alerta keeps them. Written
by the gateway's admin routes, read by them and by the login path (``shared.customers.customers_for``). Few and
small: configuration, not alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymongo import ReturnDocument

from ..customers import customers_for
from .timing import timed

if TYPE_CHECKING:
    from .core import Store


class CustomerStore:
    def __init__(self, store: Store, max_time_ms: int | None = None) -> None:
        self.customers = store.db["customers"]
        self.metrics = store.metrics
        self.max_time_ms = max_time_ms
        self.bound: dict[str, Any] = {"maxTimeMS": max_time_ms} if max_time_ms else {}

    async def ensure_indexes(self) -> None:
        await self.customers.create_index("match", name="customer_match")  # the login path's lookup

    @timed
    async def insert_customer(self, doc: dict[str, Any]) -> None:
        await self.customers.insert_one(doc)

    @timed
    async def get_customer(self, ident: str) -> dict[str, Any] | None:
        return await self.customers.find_one({"_id": ident}, max_time_ms=self.max_time_ms)

    @timed
    async def update_customer(self, ident: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Set ``changes`` on the lookup; the new document, or None when it is gone."""
        return await self.customers.find_one_and_update({"_id": ident}, {"$set": changes},
                                                        return_document=ReturnDocument.AFTER)

    @timed
    async def delete_customer(self, ident: str) -> bool:
        return (await self.customers.delete_one({"_id": ident})).deleted_count == 1

    @timed
    async def list_customers(self, query: dict[str, Any], sort: list[tuple[str, int]], skip: int,
                             limit: int) -> tuple[int, list[dict[str, Any]]]:
        """The total of ``query``'s matches, and one page of them."""
        total = await self.customers.count_documents(query, **self.bound)
        cursor = self.customers.find(query, sort=sort, skip=skip, limit=limit, max_time_ms=self.max_time_ms)
        return total, await cursor.to_list(None)

    @timed
    async def matching(self, matches: list[str]) -> list[dict[str, Any]]:
        """The lookups whose ``match`` is one of ``matches`` (a user's login, domain and groups)."""
        return await self.customers.find({"match": {"$in": matches}}, max_time_ms=self.max_time_ms).to_list(None)

    async def customers_of(self, login: str, groups: list[str], *, admin: bool = False) -> frozenset[str]:
        """The customers a user logging in is bound to (``shared.customers.customers_for``, which raises
        ``NoCustomerMatch`` when none matches), reading only the lookups that can match."""
        if admin:
            return frozenset()
        domain = login.rpartition("@")[2] if "@" in login else ""
        docs = await self.matching(list(dict.fromkeys([login, *groups, *([domain] if domain else [])])))
        return customers_for(login, groups, docs)
