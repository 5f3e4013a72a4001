"""The settled counter journals a worker reuses (batch.py), and their retirement when they stay unused.

A settled journal left in place is harmless only while it is young: recovery judges a journal older than its grace
period by the alerts' remembered receive ids (the last 100 of each alert), and a busy alert forgets a receive id after
100 more messages, after which a write that landed looks lost. A journal of a crashed batch has always run that
risk; a settled one must not. So a slot that no batch took again within ``IDLE`` seconds is deleted (conditional on
its token: never a journal a batch wrote since), off the write path. Under a steady load no slot idles, and this
costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from pymongo.errors import PyMongoError

log = logging.getLogger("alertbus.counters")
IDLE = 5.0  # seconds a settled journal waits for the next batch before it is deleted (recovery's grace: 120 s)


class JournalSlots:
    def __init__(self) -> None:
        self.free: dict[str, str] = {}  # journal id -> the token of its settled content (the last one: reused first)
        self.tasks: set[asyncio.Task[None]] = set()

    def take(self) -> tuple[str, str] | None:
        """A settled journal and its token, for a batch to overwrite (None: none free)."""
        return self.free.popitem() if self.free else None

    def give_back(self, journal: str, token: str, collection: Any) -> None:
        """``journal`` (with ``token``) is settled: reusable, and deleted if no batch takes it within ``IDLE``."""
        self.free[journal] = token
        with contextlib.suppress(RuntimeError):  # no running loop (a synchronous caller): recovery deletes it
            asyncio.get_running_loop().call_later(IDLE, self._retire, journal, token, collection)

    def _retire(self, journal: str, token: str, collection: Any) -> None:
        if self.free.get(journal) != token:
            return  # taken again since (or retired already)
        del self.free[journal]
        task = asyncio.ensure_future(self._delete(journal, token, collection))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @staticmethod
    async def _delete(journal: str, token: str, collection: Any) -> None:
        try:
            await collection.delete_one({"_id": journal, "t": token})
        except PyMongoError as exc:  # recovery deletes it (within its grace period, the risk above stays small)
            log.debug("an idle counter journal was not deleted: %r", exc)

    def __len__(self) -> int:
        return len(self.free)
