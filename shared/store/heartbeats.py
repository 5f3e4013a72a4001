"""The heartbeat watch's side of the store: which heartbeats are due, and the two fields the watch keeps on each.

* ``_watchAt`` (``WATCH_AT``, index ``watch_due``): when the watch must next look at the heartbeat. Every
  heartbeat write sets it to the instant the heartbeat expires (``heartbeat_deadline``), or to its receive time
  (due at once) when the heartbeat is flagged, so that the watch closes the failure; the watch itself moves it
  on (to the next re-send of a failure, or to the deadline of a heartbeat it found fresh). So the watch reads
  only the heartbeats that are due, with an indexed range, never all of them.
* ``_failing`` (``WATCH_FLAG``): the watch raised ``HeartbeatFail`` for the heartbeat and has not closed it yet.

Every change the watch makes is conditional on the ``receiveTime`` it read: a heartbeat written meanwhile keeps
the ``_watchAt`` its write set. A ``_watchAt`` too early only costs the watch a look; one too late would delay an
alert, and no write of the watch can set one later than the truth.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING
from pymongo.errors import OperationFailure

from .timing import timed

if TYPE_CHECKING:
    from pymongo.asynchronous.collection import AsyncCollection

    from .core import Store

WATCH_AT = "_watchAt"
WATCH_FLAG = "_failing"
WATCH_INDEX = "watch_due"
LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)  # the _watchAt of heartbeats stored before the field existed: due
# A heartbeat is one per origin *and customer*, as Alerta keys it: two customers may both send heartbeats of one
# origin. A heartbeat without a customer has ``customer`` null (save_heartbeat always writes the field).
HEARTBEAT_KEY = [("origin", ASCENDING), ("customer", ASCENDING)]
HEARTBEAT_KEY_INDEX = "origin_customer"
OLD_KEY_INDEX = "origin"  # an earlier version's unique index, on the origin alone


async def ensure_heartbeat_key(heartbeats: AsyncCollection[dict[str, Any]]) -> None:
    """Create the unique index on ``HEARTBEAT_KEY``; an earlier version's unique index on the origin alone is
    dropped first (it would refuse a second customer's heartbeat of an origin). Idempotent, and safe when several
    services start at once (a drop another one made first is fine)."""
    old = (await heartbeats.index_information()).get(OLD_KEY_INDEX)
    if old is not None and [tuple(key) for key in old.get("key", [])] == [("origin", ASCENDING)]:
        with contextlib.suppress(OperationFailure):
            await heartbeats.drop_index(OLD_KEY_INDEX)
    await heartbeats.create_index(HEARTBEAT_KEY, unique=True, name=HEARTBEAT_KEY_INDEX)


def heartbeat_deadline(receive_time: datetime, timeout: int) -> datetime:
    """When a heartbeat received at ``receive_time`` becomes expired: ``since > timeout`` of
    ``shared.render.heartbeat_body`` with ``since`` in whole seconds, i.e. ``timeout + 1`` seconds after it was
    received (``pipelines.heartbeat_expired`` is the same rule, for the store)."""
    return receive_time + timedelta(seconds=timeout + 1)


class HeartbeatWatchQueries:
    def __init__(self, store: Store) -> None:
        self.heartbeats = store.heartbeats
        self.metrics = store.metrics

    @timed
    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """At most ``limit`` heartbeats whose ``_watchAt`` has come (an indexed range: only those are read)."""
        return await self.heartbeats.find({WATCH_AT: {"$lte": now}}).limit(limit).to_list(None)

    @timed
    async def next_due(self, after: datetime, before: datetime) -> datetime | None:
        """The earliest ``_watchAt`` in ``(after, before]``, if any. SecantusDB reads every heartbeat of the range
        (it stops no index scan at the limit): the watch keeps the range short."""
        query = {WATCH_AT: {"$gt": after, "$lte": before}}
        found = await self.heartbeats.find(query, {WATCH_AT: 1}, sort=[(WATCH_AT, 1)], limit=1).to_list(None)
        return found[0][WATCH_AT] if found else None

    @timed
    async def flag(self, heartbeat: dict[str, Any]) -> bool:
        """Flag the heartbeat as failing, unless it was written since it was read (then it is fresh: no alert)."""
        return await self._change(heartbeat, {"$set": {WATCH_FLAG: True}})

    @timed
    async def unflag(self, heartbeat: dict[str, Any], watch_at: datetime) -> bool:
        return await self._change(heartbeat, {"$unset": {WATCH_FLAG: ""}, "$set": {WATCH_AT: watch_at}})

    @timed
    async def reschedule(self, heartbeat: dict[str, Any], watch_at: datetime) -> bool:
        return await self._change(heartbeat, {"$set": {WATCH_AT: watch_at}})

    async def _change(self, heartbeat: dict[str, Any], change: dict[str, Any]) -> bool:
        condition = {"_id": heartbeat["_id"], "receiveTime": heartbeat["receiveTime"]}
        return (await self.heartbeats.update_one(condition, change)).matched_count == 1
