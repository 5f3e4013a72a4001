"""The unit of work of the ingest write path (shared/store/batch.py) on a real SecantusDB: a batch's journal is a
slot that the next batch takes over in its own command (no delete per batch), counts stay exact, a write that lost
a race is taken back at once, and recovery drops an idle slot."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio

from shared.store import AlertWrite, Store, batch, make_client, slots
from shared.store.batch import BatchWriter
from shared.store.counter_keys import Footprint, JournalEntry
from shared.store.counters import JOURNAL, Counters

from .support import eventually, unique
from .support.documents import stored_alert


@pytest_asyncio.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    client = make_client(store_url)
    own = Store(client, f"batch_writes_{uuid.uuid4().hex[:8]}")
    await own.ensure_indexes()
    await Counters(own).start_up()
    try:
        yield own
    finally:
        await client.drop_database(own.db.name)
        await client.close()


def created(doc: dict[str, Any], rid: str) -> JournalEntry:
    """The journal entry of inserting ``doc`` for the message ``rid`` (which the document remembers, as the
    worker's documents do: that is how recovery tells a landed write)."""
    doc["_rids"] = [rid]
    return JournalEntry(doc["_id"], (rid,), (), None, Footprint.of(doc))


async def journals(store: Store) -> list[dict[str, Any]]:
    return await store.db["counters"].find({"kind": JOURNAL}).to_list(None)


async def test_the_next_batch_takes_over_a_settled_journal(store: Store) -> None:
    counters = Counters(store)
    first = stored_alert("Production", unique("slot"))
    outcome = await BatchWriter(store).write_batch([AlertWrite(first, None)], [created(first, "r1")])
    assert not outcome.conflicts and not outcome.failed
    (slot,) = store.journal_slots.free
    (journal,) = await journals(store)
    assert journal["_id"] == slot and [w["id"] for w in journal["writes"]] == [first["_id"]]
    second = stored_alert("Production", unique("slot"))
    await BatchWriter(store).write_batch([AlertWrite(second, None)], [created(second, "r2")])
    (journal,) = await journals(store)  # overwritten in the batch's own command, never deleted
    assert journal["_id"] == slot and [w["id"] for w in journal["writes"]] == [second["_id"]]
    assert list(store.journal_slots.free) == [slot]
    assert await counters.audit() == []


async def test_a_write_that_lost_a_race_is_taken_back_in_the_same_batch(store: Store) -> None:
    counters = Counters(store)
    doc = stored_alert("Production", unique("race"))
    await BatchWriter(store).write_batch([AlertWrite(doc, None)], [created(doc, "r1")])
    stale = {**doc, "status": "ack"}
    entry = JournalEntry(doc["_id"], ("r2",), (), Footprint.of(doc), Footprint.of(stale))
    outcome = await BatchWriter(store).write_batch([AlertWrite(stale, "not-the-token-it-has")], [entry])
    assert outcome.conflicts == {doc["_id"]} and not outcome.failed
    assert await counters.audit() == []
    (journal,) = await journals(store)
    assert journal["writes"] == [] and len(store.journal_slots) == 1


async def test_a_duplicate_insert_is_a_conflict_and_the_writes_after_it_still_land(store: Store) -> None:
    counters = Counters(store)
    doc = stored_alert("Production", unique("dup"))
    await BatchWriter(store).write_batch([AlertWrite(doc, None)], [created(doc, "r1")])
    twin = {**stored_alert("Production", doc["resource"]), "_id": str(uuid.uuid4())}  # same identity, other id
    other = stored_alert("Production", unique("after"))
    outcome = await BatchWriter(store).write_batch([AlertWrite(twin, None), AlertWrite(other, None)],
                                                   [created(twin, "r2"), created(other, "r3")])
    assert outcome.conflicts == {twin["_id"]}
    assert await store.alerts.find_one({"_id": other["_id"]}) is not None
    assert await counters.audit() == []


async def test_recovery_drops_an_idle_slot(store: Store) -> None:
    counters = Counters(store)
    doc = stored_alert("Production", unique("idle"))
    await BatchWriter(store).write_batch([AlertWrite(doc, None)], [created(doc, "r1")])
    (slot,) = store.journal_slots.free
    journal = await store.db["counters"].find_one({"_id": slot})
    assert journal is not None
    await store.db["counters"].update_one({"_id": slot}, {"$set": {"at": journal["at"] - timedelta(hours=1)}})
    assert await counters.recover() == {"journals": 1, "compensated": 0}  # every write landed: nothing taken back
    assert await journals(store) == [] and await counters.audit() == []
    again = stored_alert("Production", unique("idle"))
    await BatchWriter(store).write_batch([AlertWrite(again, None)], [created(again, "r2")])  # the slot, anew
    assert [j["_id"] for j in await journals(store)] == [slot] and await counters.audit() == []


async def test_a_write_the_store_refuses_fails_alone(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error of one alert write (not a race) stops the ordered command there: the writes before it landed, the
    writes after it are sent again; only the refused one is reported, and its counter updates are taken back."""
    counters = Counters(store)
    poison = stored_alert("Production", unique("poison"))
    await BatchWriter(store).write_batch([AlertWrite(poison, None)], [created(poison, "r0")])
    real = batch.alert_ops

    def refused_replace(writes: list[AlertWrite]) -> list[Any]:
        """The replace of ``poison`` changes its _id, which the store refuses (code 66), as it would a too-large
        document: a write error that is no race."""
        ops = real(writes)
        return [dataclasses.replace(op, doc={**(op.doc or {}), "_id": "moved"}) if op.kind == "replace" else op
                for op in ops]

    monkeypatch.setattr(batch, "alert_ops", refused_replace)
    before, after = stored_alert("Production", unique("before")), stored_alert("Production", unique("after"))
    acked = {**poison, "status": "ack", "_rids": ["r0", "r1"]}
    entries = [created(before, "r2"), JournalEntry(poison["_id"], ("r1",), (), Footprint.of(poison),
                                                   Footprint.of(acked)), created(after, "r3")]
    writes = [AlertWrite(before, None), AlertWrite(acked, poison["_v"]), AlertWrite(after, None)]
    outcome = await BatchWriter(store).write_batch(writes, entries)
    assert outcome.failed == {poison["_id"]} and not outcome.conflicts
    for doc in (before, after):
        assert await store.alerts.find_one({"_id": doc["_id"]}) is not None
    assert (await store.alerts.find_one({"_id": poison["_id"]}) or {}).get("status") == "open"
    assert await counters.audit() == []


async def test_a_settled_journal_left_unused_is_deleted(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recovery would judge it by receive ids an alert forgets after 100 more messages (slots.py): it must not
    grow old."""
    monkeypatch.setattr(slots, "IDLE", 0.2)
    doc = stored_alert("Production", unique("unused"))
    await BatchWriter(store).write_batch([AlertWrite(doc, None)], [created(doc, "r1")])
    assert len(await journals(store)) == 1

    async def gone() -> bool | None:
        return True if not await journals(store) and not store.journal_slots.free else None

    assert await eventually(gone, timeout=5)
    assert await Counters(store).audit() == []


async def test_a_changed_alert_is_swapped_whole_with_its_strings_kept_as_data(store: Store) -> None:
    """A changed alert goes as a swap (``batch.swap``: the version check inside the update, the filter on ``_id``
    alone); the stored document becomes exactly the new one, and values that look like field paths or operators
    stay text."""
    doc = stored_alert("Production", unique("swap"))
    await BatchWriter(store).write_batch([AlertWrite(doc, None)], [created(doc, "r1")])
    token = (await store.alerts.find_one({"_id": doc["_id"]}) or {})["_v"]
    changed = {**doc, "text": "$$ROOT", "value": "$text", "attributes": {"rule": {"$gt": "$value"}}, "status": "ack"}
    changed.pop("_v")
    entry = JournalEntry(doc["_id"], ("r2",), (), Footprint.of(doc), Footprint.of(changed))
    outcome = await BatchWriter(store).write_batch([AlertWrite(changed, token)], [entry])
    assert not outcome.conflicts and not outcome.failed
    stored = await store.alerts.find_one({"_id": doc["_id"]})
    assert stored is not None and stored["_v"] not in ("", token)
    assert {k: v for k, v in stored.items() if k != "_v"} == {k: v for k, v in changed.items() if k != "_v"}
    assert stored["text"] == "$$ROOT" and stored["attributes"] == {"rule": {"$gt": "$value"}}
    assert await Counters(store).audit() == []


async def test_a_swap_needs_the_token_it_read_or_none_and_the_document_still_there(store: Store) -> None:
    untokened = stored_alert("Production", unique("untokened"))
    del untokened["_v"]
    await store.alerts.insert_one(untokened)  # written by something that sets no token: expected ""
    gone = stored_alert("Production", unique("gone"))
    await BatchWriter(store).write_batch([AlertWrite(gone, None)], [created(gone, "r1")])
    token = (await store.alerts.find_one({"_id": gone["_id"]}) or {})["_v"]
    await store.alerts.delete_one({"_id": gone["_id"]})  # deleted after the worker read it
    writes = [AlertWrite({**untokened, "status": "ack"}, ""), AlertWrite({**gone, "status": "ack"}, token)]
    outcome = await BatchWriter(store).write_batch(writes, [])
    assert outcome.conflicts == {gone["_id"]} and not outcome.failed
    assert (await store.alerts.find_one({"_id": untokened["_id"]}) or {})["status"] == "ack"
    assert await store.alerts.find_one({"_id": gone["_id"]}) is None
    again = await BatchWriter(store).write_batch([AlertWrite({**untokened, "status": "closed"}, "")], [])
    assert again.conflicts == {untokened["_id"]}  # it has a token now: "" no longer matches


async def test_the_batches_of_one_worker_write_one_at_a_time_in_order(store: Store,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The lanes overlap preparation, never two writes (``Store.write_turn``); each batch still lands whole."""
    writing: list[int] = []
    order: list[int] = []
    real = BatchWriter._write

    async def watched(self: BatchWriter, counted: Any, writes: list[AlertWrite]) -> Any:
        writing.append(len(writes))
        assert len(writing) == 1, "two batches wrote at once"
        order.append(len(writes))
        await asyncio.sleep(0.05)  # a slow write: the other batches are ready meanwhile
        try:
            return await real(self, counted, writes)
        finally:
            writing.pop()

    monkeypatch.setattr(BatchWriter, "_write", watched)
    batches = [[stored_alert("Production", unique(f"turn{n}")) for _ in range(n)] for n in (1, 2, 3)]
    outcomes = await asyncio.gather(*(
        BatchWriter(store).write_batch([AlertWrite(doc, None) for doc in docs],
                                       [created(doc, f"r{n}-{i}") for i, doc in enumerate(docs)])
        for n, docs in enumerate(batches)))
    assert order == [1, 2, 3] and all(not o.conflicts and not o.failed for o in outcomes)
    assert await store.alerts.count_documents({"resource": {"$regex": "^turn"}}) == 6
    assert await Counters(store).audit() == []
