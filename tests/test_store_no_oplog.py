"""The embedded store runs without an oplog (services/embedded.py ``server_argv``: a SecantusDB workaround — its
oplog pruning made every write slower as the store's history grew, until a million-alert seed stalled)."""

from __future__ import annotations

from pymongo import AsyncMongoClient


async def test_the_store_keeps_no_oplog(store_url: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(store_url)
    try:
        hello = await client.admin.command("hello")
        assert "setName" not in hello  # a standalone server: drivers use no replica-set machinery
        scratch = client["alertbus_oplog_probe"]["probe"]
        await scratch.insert_many([{"n": n} for n in range(10)])
        assert await client["local"]["oplog.rs"].count_documents({}) == 0
        await client.drop_database("alertbus_oplog_probe")
    finally:
        await client.close()
