"""Blackouts in the store (collection ``blackouts``): written by the gateway (configuration, like keys, not alerts:
they do not travel through the ingest queues), read by the ingest workers' caches (``current``) and by the
gateway's listing. Their number is small and bounded (``MAX_CURRENT`` current and future ones), so every read is
cheap; index ``endTime`` serves the workers' load of those not yet expired."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .timing import timed

if TYPE_CHECKING:
    from .core import Store

MAX_CURRENT = 10_000  # current and future blackouts at most: every ingest worker holds them all in memory


class BlackoutStore:
    def __init__(self, store: Store, max_time_ms: int | None = None) -> None:
        self.blackouts = store.db["blackouts"]
        self.metrics = store.metrics
        self.max_time_ms = max_time_ms

    async def ensure_indexes(self) -> None:
        await self.blackouts.create_index("endTime", name="blackout_end")

    @timed
    async def insert_blackout(self, doc: dict[str, Any]) -> None:
        await self.blackouts.insert_one(doc)

    @timed
    async def get_blackout(self, ident: str) -> dict[str, Any] | None:
        return await self.blackouts.find_one({"_id": ident}, max_time_ms=self.max_time_ms)

    @timed
    async def replace_blackout(self, doc: dict[str, Any]) -> bool:
        """Write ``doc`` over the stored blackout of its id; False when that is gone."""
        return (await self.blackouts.replace_one({"_id": doc["_id"]}, doc)).matched_count == 1

    @timed
    async def delete_blackout(self, ident: str) -> bool:
        return (await self.blackouts.delete_one({"_id": ident})).deleted_count == 1

    @timed
    async def list_blackouts(self, query: dict[str, Any], sort: list[tuple[str, int]], skip: int,
                             limit: int) -> tuple[int, list[dict[str, Any]]]:
        """The total of ``query``'s matches, and one page of them."""
        bound: dict[str, Any] = {"maxTimeMS": self.max_time_ms} if self.max_time_ms else {}
        total = await self.blackouts.count_documents(query, **bound)
        cursor = self.blackouts.find(query, sort=sort, skip=skip, limit=limit, max_time_ms=self.max_time_ms)
        return total, await cursor.to_list(None)

    @timed
    async def count_current(self, now: datetime) -> int:
        return await self.blackouts.count_documents({"endTime": {"$gt": now}})

    @timed
    async def current(self, now: datetime) -> list[dict[str, Any]]:
        """The blackouts not expired at ``now`` (active and pending), at most ``MAX_CURRENT`` + 1 of them (one
        more says the bound was passed), soonest ending first."""
        fields = {"environment": 1, "startTime": 1, "endTime": 1, "resource": 1, "event": 1, "group": 1,
                  "origin": 1, "service": 1, "tags": 1, "customer": 1}
        cursor = self.blackouts.find({"endTime": {"$gt": now}}, fields, sort=[("endTime", 1)], limit=MAX_CURRENT + 1)
        return await cursor.to_list(None)
