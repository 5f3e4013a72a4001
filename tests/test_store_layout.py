"""The stored layout: id lookups through the one multikey index, and the upgrade of an earlier version's database.
Each test has a database of its own: the upgrade drops and recreates indexes, which the session's database (and
every test that reads it meanwhile) must keep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from pymongo import ASCENDING

from shared.store import AlertWrite, Store
from shared.store.core import OBSOLETE_INDEXES, lookup_keys

from .support import own_store
from .support.documents import environment, stored_alert


@pytest_asyncio.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with own_store(store_url) as opened:
        yield opened


async def _insert(store: Store, docs: list[dict[str, Any]]) -> None:
    assert await store.write_alerts([AlertWrite(doc, None) for doc in docs]) == set()


async def _resource(store: Store, ident: str) -> str | None:
    doc = await store.get_alert(ident)
    return None if doc is None else str(doc["resource"])


def test_lookup_keys_hold_both_ids_and_their_short_forms() -> None:
    doc = {"_id": "0d9e3c9a-6c4c-4b1e-9a53-5d3e9bdb2f11", "lastReceiveId": "feedface-0000-4000-8000-000000000000"}
    assert lookup_keys(doc) == [doc["_id"], doc["lastReceiveId"], "0d9e3c9a", "feedface"]
    assert lookup_keys({"_id": doc["_id"], "lastReceiveId": doc["_id"]}) == [doc["_id"], "0d9e3c9a"]


async def test_get_alert_prefers_the_id_over_a_last_receive_id_and_short_forms(store: Store) -> None:
    env = environment()
    first, second = stored_alert(env, "one"), stored_alert(env, "two")
    second["lastReceiveId"] = first["_id"]  # the same string is one alert's id and the other's last receive id
    await _insert(store, [first, second])
    assert await _resource(store, first["_id"]) == "one"
    assert await _resource(store, first["_id"][:8]) == "one"
    assert await _resource(store, second["_id"][:8]) == "two"
    assert await store.get_alert("00000000") is None


async def test_an_earlier_versions_database_gets_lookup_keys_and_loses_its_old_indexes(store: Store) -> None:
    env = environment()
    old = stored_alert(env, "old-layout")
    old.pop("_keys", None)
    await store.alerts.insert_one(old)  # as an earlier version stored it: no lookup keys
    await store.alerts.create_index([("_sid", ASCENDING)], name="shortId")
    assert await store.get_alert(old["_id"]) is None
    await store.ensure_indexes()
    assert await _resource(store, old["_id"][:8]) == "old-layout"
    assert not OBSOLETE_INDEXES & (await store.alerts.index_information()).keys()
