"""The store side of the PagerDuty replay protection (``services/hooks/replay.py`` decides which events are
remembered and for how long): the ids of the events processed within the replay window, shared by every hooks
replica.

One document per event in ``webhook_events``: ``{_id: event id, state, token, expiresAt}``.

* ``claim`` takes the id *before* anything is applied, with one conditional upsert: the first taker creates the
  document, a taker whose condition fails on an unexpired document gets a duplicate-key error. Two replicas given
  the same event at once thus never both apply it (a check, then a write, would race). A claim lasts only as long as
  processing can (``claim_seconds``), so a replica that dies holding one blocks PagerDuty's retry no longer.
* ``confirm`` marks the event processed once its change was accepted, and keeps it to the end of the window.
* ``release`` deletes the claim when the change was not accepted (an unknown alert, a broker outage), so that
  PagerDuty's retry goes through.

Expired documents are removed by a TTL index on ``expiresAt`` (MongoDB's TTL monitor; SecantusDB supports
``expireAfterSeconds`` with a sweeper of its own, every 60 s, that reads the collection it prunes: fine for a
collection this small). Every query treats an expired document as absent, so correctness never waits for a sweep.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from pymongo.errors import DuplicateKeyError, PyMongoError

from .core import Store, new_token, now_ms, timed

log = logging.getLogger("alertbus.hooks.replay")
COLLECTION = "webhook_events"
PENDING, DONE = "pending", "done"
# PagerDuty's clock and ours may disagree: an event may seem to come from this far in the future, and the memory of
# an id outlives its window by as much (the store's TTL sweep runs on the store's clock, not on the replicas').
CLOCK_SKEW = timedelta(seconds=60)
T = TypeVar("T")


class Seen(enum.Enum):
    """Why an event was not applied again."""

    PROCESSED = "processed"  # accepted before, within the window
    IN_PROGRESS = "in progress"  # another request (perhaps on another replica) is applying it right now


@dataclass(frozen=True)
class EventStamp:
    event_id: str
    occurred_at: datetime | None  # None only for an unsigned event


def remembered_until(stamp: EventStamp, now: datetime, window: timedelta) -> datetime:
    """How long a processed id is kept: while the event could still pass the time check, and no less than the
    window after it was processed (an unsigned event has no time checked)."""
    return max(now, stamp.occurred_at or now) + window + CLOCK_SKEW


@dataclass(frozen=True)
class Claim:
    stamp: EventStamp
    token: str  # this claim's, so that a late confirm or release never touches a later taker's document


class ProcessedEvents:
    """The ids of the PagerDuty events processed within the replay window, shared by every hooks replica."""

    def __init__(self, store: Store, window: timedelta, claim_seconds: float) -> None:
        self.events = store.db[COLLECTION]
        self.metrics = store.metrics
        self.window = window
        self.claim_for = timedelta(seconds=claim_seconds)
        self.indexed = False

    async def ensure_indexes(self) -> None:
        """The TTL index; created on first use, not at start-up, so that the service starts while the store is
        down (webhooks are rare: one extra call per process)."""
        if not self.indexed:
            await self.events.create_index("expiresAt", expireAfterSeconds=0, name="expiry")
            self.indexed = True

    @timed
    async def claim(self, stamp: EventStamp) -> Claim | Seen:
        await self.ensure_indexes()
        now, token = now_ms(), new_token()
        try:
            await self.events.update_one(
                {"_id": stamp.event_id, "expiresAt": {"$lt": now}},  # absent, or expired and not yet swept
                {"$set": {"state": PENDING, "token": token, "claimedAt": now, "expiresAt": now + self.claim_for}},
                upsert=True,
            )
        except DuplicateKeyError:
            doc = await self.events.find_one({"_id": stamp.event_id}, {"state": 1})
            # A document gone in between was a released claim: "in progress" makes the sender try again.
            return Seen.PROCESSED if doc is not None and doc.get("state") == DONE else Seen.IN_PROGRESS
        return Claim(stamp, token)

    @timed
    async def confirm(self, claim: Claim) -> None:
        now = now_ms()
        result = await self.events.update_one(
            {"_id": claim.stamp.event_id, "token": claim.token},
            {"$set": {"state": DONE, "processedAt": now,
                      "expiresAt": remembered_until(claim.stamp, now, self.window)}},
        )
        if result.matched_count != 1:
            log.warning("PagerDuty event %s took longer than its claim (%s s); a replay is no longer refused",
                        claim.stamp.event_id, self.claim_for.total_seconds())

    @timed
    async def release(self, claim: Claim) -> None:
        await self.events.delete_one({"_id": claim.stamp.event_id, "token": claim.token})

    async def run_once(self, stamp: EventStamp, apply: Callable[[], Awaitable[T]]) -> T | Seen:
        """``apply()`` unless the event was processed (or is being processed) already. Only a change that was
        accepted is remembered: when ``apply`` raises, the claim is released and the sender's retry applies it."""
        claim = await self.claim(stamp)
        if isinstance(claim, Seen):
            return claim
        try:
            result = await apply()
        except BaseException:
            try:
                await self.release(claim)
            except PyMongoError as exc:  # the claim runs out by itself after claim_seconds
                log.warning("could not release the claim of PagerDuty event %s: %s", stamp.event_id, exc)
            raise
        try:
            await self.confirm(claim)
        except PyMongoError as exc:
            # The change was made: answering an error would make PagerDuty send it again. The claim still refuses
            # replays until it runs out.
            log.error("could not record PagerDuty event %s as processed: %s", stamp.event_id, exc)
        return result
