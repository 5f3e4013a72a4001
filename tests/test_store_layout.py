"""The stored layout: id lookups through the one multikey index, and the upgrade of an earlier version's database."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING

from shared.store import AlertWrite, Store
from shared.store.core import OBSOLETE_INDEXES, lookup_keys

from .conftest import Stack
from .test_query_support import environment, stored_alert


async def _insert(store: Store, docs: list[dict[str, Any]]) -> None:
    assert await store.write_alerts([AlertWrite(doc, None) for doc in docs]) == set()


def test_lookup_keys_hold_both_ids_and_their_short_forms() -> None:
    doc = {"_id": "0d9e3c9a-6c4c-4b1e-9a53-5d3e9bdb2f11", "lastReceiveId": "feedface-0000-4000-8000-000000000000"}
    assert lookup_keys(doc) == [doc["_id"], doc["lastReceiveId"], "0d9e3c9a", "feedface"]
    assert lookup_keys({"_id": doc["_id"], "lastReceiveId": doc["_id"]}) == [doc["_id"], "0d9e3c9a"]


async def test_get_alert_prefers_the_id_over_a_last_receive_id_and_short_forms(stack: Stack) -> None:
    env = environment()
    first, second = stored_alert(env, "one"), stored_alert(env, "two")
    second["lastReceiveId"] = first["_id"]  # the same string is one alert's id and the other's last receive id
    await _insert(stack.store, [first, second])
    assert (await stack.store.get_alert(first["_id"]))["resource"] == "one"
    assert (await stack.store.get_alert(first["_id"][:8]))["resource"] == "one"
    assert (await stack.store.get_alert(second["_id"][:8]))["resource"] == "two"
    assert await stack.store.get_alert("00000000") is None


async def test_an_earlier_versions_database_gets_lookup_keys_and_loses_its_old_indexes(stack: Stack) -> None:
    env = environment()
    old = stored_alert(env, "old-layout")
    old.pop("_keys", None)
    await stack.store.alerts.insert_one(old)  # as an earlier version stored it: no lookup keys
    await stack.store.alerts.create_index([("_sid", ASCENDING)], name="shortId")
    assert await stack.store.get_alert(old["_id"]) is None
    await stack.store.ensure_indexes()
    assert (await stack.store.get_alert(old["_id"][:8]))["resource"] == "old-layout"
    assert not OBSOLETE_INDEXES & (await stack.store.alerts.index_information()).keys()
