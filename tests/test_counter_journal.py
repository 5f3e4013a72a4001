"""Which receive ids a batch's counter journal marks as possibly applied before (services/ingest/groups.py):
those of broker redeliveries, and those of a batch the worker retries after its journal was written (what the
worker attempted is its own ``Attempted``, given to each test fresh)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from services.ingest.groups import Attempted, Item, _Applied, _journal
from shared.broker import ALERT
from shared.store import AlertWrite
from shared.store.counter_keys import Footprint

from .support.documents import stored_alert


def applied(doc: dict[str, Any], rid: str, *, redelivered: bool) -> _Applied:
    message: Any = SimpleNamespace(redelivered=redelivered)
    return _Applied(Item(message, ALERT, {"id": rid}), doc["_id"], "created", doc)


def test_a_first_delivery_is_not_marked_and_a_redelivery_is() -> None:
    doc = stored_alert("Production", "web01")
    (entry,) = _journal([AlertWrite(doc, None)], {}, [applied(doc, doc["_id"], redelivered=False)], Attempted())
    assert (entry.rids, entry.marked, entry.before, entry.after) == ((doc["_id"],), (), None, Footprint.of(doc))
    (entry,) = _journal([AlertWrite(doc, None)], {}, [applied(doc, doc["_id"], redelivered=True)], Attempted())
    assert entry.marked == (doc["_id"],)


def test_a_batch_retried_in_process_is_marked_like_a_redelivery() -> None:
    doc = stored_alert("Production", "web02")
    rid = str(uuid.uuid4())
    attempted = Attempted()
    (entry,) = _journal([AlertWrite(doc, None)], {}, [applied(doc, rid, redelivered=False)], attempted)
    assert entry.marked == ()  # a first attempt
    attempted.add([rid])  # it journalled the counters, then the store went away
    (entry,) = _journal([AlertWrite(doc, None)], {}, [applied(doc, rid, redelivered=False)], attempted)
    assert entry.marked == (rid,)
    # Another worker's record (or a later test's) knows nothing of it.
    (entry,) = _journal([AlertWrite(doc, None)], {}, [applied(doc, rid, redelivered=False)], Attempted())
    assert entry.marked == ()


def test_a_write_that_changes_no_counter_is_not_journalled() -> None:
    doc = stored_alert("Production", "web03")
    tagged = {**doc, "tags": ["x"]}
    assert _journal([AlertWrite(tagged, "token")], {doc["_id"]: Footprint.of(doc)},
                    [applied(tagged, "r1", redelivered=False)], Attempted()) == []
