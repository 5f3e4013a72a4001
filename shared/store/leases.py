"""Leases: one holder at a time for a named job, however many replicas want it.

A lease is one document ``{_id: name, owner, expiresAt, nextRun}`` in ``leases``, taken with one conditional
``find_one_and_update`` (an upsert: the first taker creates it; a taker whose condition fails on an existing
document gets a duplicate-key error, i.e. "not yours"). ``expiresAt`` bounds a holder that dies: its lease
simply runs out. ``nextRun`` spaces scheduled runs across replicas: a scheduled taker needs the lease free *and*
due, so a schedule runs once per interval in the whole installation, not once per replica.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from ..tasks import cancel_and_wait
from .core import Store, now_ms, timed

log = logging.getLogger("alertbus.leases")
TTL = 30.0  # seconds a lease lasts without renewal: how long a dead holder blocks the job
RELEASE_TIMEOUT = 2.0  # seconds a release may take before the lease is left to run out


class LeaseBusy(Exception):
    """Another holder has the lease (or, for a scheduled run, the next run is not due yet)."""


@dataclass
class Lease:
    name: str
    owner: str
    acquired: datetime
    lost: bool = False  # set when a renewal found the lease gone: the holder stops at its next step


def new_owner() -> str:
    """Unique per acquisition, so that a late renewal of an old holder can never extend a newer one's lease."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


class Leases:
    def __init__(self, store: Store) -> None:
        self.leases = store.db["leases"]
        self.metrics = store.metrics

    @timed
    async def acquire(self, name: str, ttl: float = TTL, *, due_only: bool = True) -> Lease | None:
        """Take the lease if it is free (and, with ``due_only``, its next run is due); None otherwise."""
        now, owner = now_ms(), new_owner()
        # ``$lte``: a release sets ``expiresAt`` to its own now, which the next taker's now may equal (millisecond
        # clock): a released lease is free at once, not one millisecond later.
        condition: dict[str, Any] = {"_id": name, "expiresAt": {"$lte": now}}
        if due_only:
            condition["nextRun"] = {"$lte": now}
        try:
            await self.leases.find_one_and_update(
                condition,
                {"$set": {"owner": owner, "expiresAt": now + timedelta(seconds=ttl), "acquiredAt": now},
                 "$setOnInsert": {"nextRun": now}},
                upsert=True, return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return None
        return Lease(name, owner, now)

    @timed
    async def renew(self, lease: Lease, ttl: float = TTL) -> bool:
        result = await self.leases.update_one(
            {"_id": lease.name, "owner": lease.owner},
            {"$set": {"expiresAt": now_ms() + timedelta(seconds=ttl)}},
        )
        return result.matched_count == 1

    @timed
    async def release(self, lease: Lease, next_run: datetime) -> None:
        await self.leases.update_one(
            {"_id": lease.name, "owner": lease.owner}, {"$set": {"expiresAt": now_ms(), "nextRun": next_run}},
        )

    @asynccontextmanager
    async def hold(self, name: str, interval: float, *, due_only: bool = True,
                   ttl: float = TTL) -> AsyncIterator[Lease]:
        """Hold the lease for the body, renewing it every ``ttl/3``; raises ``LeaseBusy`` when it is taken.
        After a completed body the next run is due ``interval`` seconds after this one started; after a body
        that failed or was cancelled it is due at once (a repeated run is safe: see services/ingest/housekeeping.py)."""
        lease = await self.acquire(name, ttl, due_only=due_only)
        if lease is None:
            raise LeaseBusy(name)
        keeper = asyncio.create_task(self._keep(lease, ttl), name=f"lease-{name}")
        next_run = now_ms()
        try:
            yield lease
            next_run = lease.acquired + timedelta(seconds=interval)
        finally:
            await cancel_and_wait([keeper], patience=RELEASE_TIMEOUT, grace=RELEASE_TIMEOUT)
            try:
                # Bounded: with the store down a release would wait for server selection, and hold up a shutdown.
                async with asyncio.timeout(RELEASE_TIMEOUT):  # not wait_for, which may lose a cancel: shared/tasks.py
                    await self.release(lease, next_run)
            except (PyMongoError, TimeoutError) as exc:  # it runs out by itself after ttl
                log.warning("could not release lease %s: %r", name, exc)

    async def _keep(self, lease: Lease, ttl: float) -> None:
        while not lease.lost:
            await asyncio.sleep(ttl / 3)
            try:
                lease.lost = not await self.renew(lease, ttl)
            except PyMongoError as exc:  # keep trying: the lease still has up to 2/3 of its ttl
                log.warning("could not renew lease %s: %s", lease.name, exc)
            if lease.lost:
                log.warning("lease %s was lost; its run stops at the next step", lease.name)
