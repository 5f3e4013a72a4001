"""The stored layout: id lookups through the one multikey index, and the upgrade of an earlier version's database.
Each test has a database of its own: the upgrade drops and recreates indexes, which the session's database (and
every test that reads it meanwhile) must keep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio
from pymongo import ASCENDING

from shared.store import AlertWrite, Store
from shared.store.core import OBSOLETE_INDEXES, lookup_keys
from shared.store.heartbeats import HEARTBEAT_KEY_INDEX, OLD_KEY_INDEX

from .support import own_store, unique
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


def _beat(origin: str, customer: str | None) -> dict[str, Any]:
    return {"id": unique("hb"), "origin": origin, "customer": customer, "tags": [], "attributes": {},
            "createTime": datetime.now(UTC), "timeout": 60, "receiveTime": datetime.now(UTC)}


async def test_an_earlier_versions_heartbeat_index_on_the_origin_alone_becomes_origin_and_customer(
        store: Store) -> None:
    await store.heartbeats.drop_index(HEARTBEAT_KEY_INDEX)
    await store.heartbeats.create_index([("origin", ASCENDING)], unique=True, name=OLD_KEY_INDEX)
    origin = unique("origin")
    kept = await store.save_heartbeat(_beat(origin, "Acme"))
    await store.ensure_indexes()
    await store.ensure_indexes()  # idempotent: the second start changes nothing
    indexes = await store.heartbeats.index_information()
    assert OLD_KEY_INDEX not in indexes
    assert indexes[HEARTBEAT_KEY_INDEX]["key"] == [("origin", ASCENDING), ("customer", ASCENDING)]
    assert indexes[HEARTBEAT_KEY_INDEX]["unique"] is True
    other, bare = await store.save_heartbeat(_beat(origin, "Globex")), await store.save_heartbeat(_beat(origin, None))
    again = await store.save_heartbeat(_beat(origin, "Acme"))
    assert again["_id"] == kept["_id"] and len({kept["_id"], other["_id"], bare["_id"]}) == 3
    assert bare["customer"] is None and (await store.save_heartbeat(_beat(origin, None)))["_id"] == bare["_id"]
    assert await store.heartbeats.count_documents({"origin": origin}) == 3


async def test_an_index_named_origin_with_another_key_is_left_alone(store: Store) -> None:
    """Only the earlier version's index (unique on the origin alone) is dropped, never one an operator made."""
    await store.heartbeats.drop_index(HEARTBEAT_KEY_INDEX)
    await store.heartbeats.create_index([("origin", ASCENDING), ("timeout", ASCENDING)], name=OLD_KEY_INDEX)
    await store.ensure_indexes()
    indexes = await store.heartbeats.index_information()
    assert indexes[OLD_KEY_INDEX]["key"] == [("origin", ASCENDING), ("timeout", ASCENDING)]
    assert HEARTBEAT_KEY_INDEX in indexes
