"""Every ingest worker's copy of the current and future blackouts, so that the pre-receive blackout rule costs no
store read per alert: alerts are matched in memory (shared/blackouts.py), the time compared locally.

The copy is loaded at start-up and kept current three ways:

* an announcement on ``alertbus.events`` (``blackout.*``, published by the gateway after each write; see
  shared/blackout_events.py) that is signed is applied at once, as it arrives;
* any announcement, signed or not, makes the worker reload from the store soon after (the store is the truth);
* a reload every ``REFRESH_SECONDS`` whatever happens: should an announcement be lost (the worker's connection
  was down when it was published), the copy is that stale at most.

A reload replaces the copy, then applies again the announcements that arrived while it read, so that a reload
that read the store just before a change cannot undo the change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shared.blackout_events import BINDING, Change, read
from shared.blackouts import Blackouts, Window, decide
from shared.settings import Settings
from shared.store.blackouts import MAX_CURRENT, BlackoutStore
from shared.tasks import cancel_and_wait

log = logging.getLogger("alertbus.ingest.blackouts")
REFRESH_SECONDS = 30.0  # the longest a worker's copy goes without a reload
RETRY_SECONDS = 2.0  # after a reload that failed (the store is down)


class BlackoutCache:
    def __init__(self, repository: BlackoutStore, settings: Settings, refresh: float = REFRESH_SECONDS) -> None:
        self.repository = repository
        self.secret = settings.service_secret
        self.notification = settings.rules.notification_blackout
        self.accepted = settings.rules.blackout_accept
        self.customers = settings.customer_views  # a customer's blackout covers only its alerts
        self.refresh = refresh
        self.blackouts = Blackouts()
        self.wanted = asyncio.Event()  # an announcement came: reload
        self.arrived: list[Change] | None = None  # announcements received while a reload reads the store
        self.reloads = 0  # completed reloads (tests wait on it)
        self.task: asyncio.Task[None] | None = None

    async def start(self, channel: AbstractChannel, events: str) -> None:
        """Listen first, then load: a change made while the first load reads is announced to this copy too."""
        await self.repository.ensure_indexes()
        exchange = await channel.get_exchange(events)
        # Exclusive to this connection: nothing is kept for a worker that is gone.
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=BINDING)
        await queue.consume(self._on_announcement, no_ack=True)
        await self.reload()
        self.task = asyncio.create_task(self._run(), name="blackout-cache")

    async def stop(self) -> None:
        if self.task is not None:
            await cancel_and_wait([self.task])

    def reload_soon(self) -> None:
        self.wanted.set()

    def check(self, alert: dict[str, Any]) -> tuple[str, Window] | None:
        """What a blackout does to ``alert`` (shared.blackouts.decide), at its ``createTime`` as in Alerta."""
        return decide(self.blackouts, alert, alert["createTime"], notification=self.notification,
                      accepted=self.accepted, customers=self.customers)

    async def reload(self) -> None:
        self.arrived = []
        try:
            docs = await self.repository.current(datetime.now(UTC))
            if len(docs) > MAX_CURRENT:
                log.warning("more than %d current and future blackouts: those ending last are not applied",
                            MAX_CURRENT)
            fresh = Blackouts(_windows(docs[:MAX_CURRENT]))
            for change in self.arrived:
                _apply(fresh, change)
            self.blackouts = fresh
            self.reloads += 1
        finally:
            self.arrived = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.refresh):  # not wait_for: see shared/tasks.py
                    await self.wanted.wait()
            self.wanted.clear()
            try:
                await self.reload()
            except Exception as exc:  # the store may be down: the copy is kept, and tried again soon
                log.warning("could not reload the blackouts: %s: %.200s", type(exc).__name__, exc)
                await asyncio.sleep(RETRY_SECONDS)
                self.reload_soon()

    async def _on_announcement(self, message: AbstractIncomingMessage) -> None:
        change = read(self.secret, message)
        if change is not None:
            _apply(self.blackouts, change)
            if self.arrived is not None:
                self.arrived.append(change)
        self.reload_soon()


def _windows(docs: list[dict[str, Any]]) -> list[Window]:
    """The blackouts of ``docs``; one the gateway cannot have written (changed in the store by hand) is skipped."""
    windows = []
    for doc in docs:
        try:
            if not all(isinstance(doc.get(name), datetime) for name in ("startTime", "endTime")):
                raise TypeError("startTime and endTime must be dates")
            windows.append(Window.of(doc))
        except (KeyError, TypeError) as exc:
            log.warning("blackout %.64r skipped: it lacks a field or has one of the wrong type (%s)",
                        doc.get("_id"), exc)
    return windows


def _apply(blackouts: Blackouts, change: Change) -> None:
    if change.window is None:
        blackouts.drop(change.id)
    else:
        blackouts.put(change.window)
