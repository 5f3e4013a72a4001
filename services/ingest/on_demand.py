"""Housekeeping on demand: ``POST /management/housekeeping`` (and the ``alerta housekeeping`` command) is run here,
by whichever ingest worker takes the request, so that the ingest side is the one owner of housekeeping whether it
runs on a schedule or on demand. The gateway authorises the call and publishes a signed request to the
``alertbus.ingest.housekeeping`` queue (``RpcClient.request_housekeeping``); the worker runs it under the lease
the scheduled runs take, waiting (bounded) for a run in progress elsewhere to end, and replies with the report.

The request's body is ``shared/housekeeping.py``'s.
A request not signed with ``SERVICE_SECRET`` is refused (403): its ``user`` could be anyone's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from shared.broker import Names, RpcClient
from shared.housekeeping import Thresholds, thresholds_of
from shared.metrics import Metrics
from shared.settings import Settings
from shared.signing import signed_by_service
from shared.store import Store, StoreUnavailable
from shared.store.housekeeping import HousekeepingQueries
from shared.store.leases import LeaseBusy, Leases
from shared.tasks import cancel_and_wait

from .housekeeping import NAME, housekeep

log = logging.getLogger("alertbus.housekeeping")
LEASE_WAIT = 10.0  # seconds a request waits for a run in progress elsewhere
REPLY_TIMEOUT = 5.0


class OnDemand:
    """Consumes housekeeping requests, one at a time per worker (a run is long; other workers take the next)."""

    def __init__(self, settings: Settings, store: Store, rpc: RpcClient, metrics: Metrics) -> None:
        self.settings, self.store, self.rpc, self.metrics = settings, store, rpc, metrics
        self.channel: AbstractChannel | None = None
        self.running: set[asyncio.Task[None]] = set()

    async def start(self, connection: AbstractRobustConnection) -> None:
        self.channel = await connection.channel(publisher_confirms=False)
        await self.channel.set_qos(prefetch_count=1)
        queue = await self.channel.get_queue(Names.from_settings(self.settings).housekeeping)
        await queue.consume(self._on_message)

    async def stop(self) -> None:
        """A run in progress stops where it is (its lease is released as due again); the request is given back."""
        await cancel_and_wait(self.running)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
        try:
            try:
                code, body = await self._answer(message)
            except StoreUnavailable as exc:
                code, body = _error(503, f"the store is unavailable: {exc}")
            except Exception:  # one request must not stop the consumer; the caller gets an answer
                log.exception("housekeeping on demand failed")
                code, body = _error(500, "housekeeping failed; see the ingest worker's log")
            await self._reply(message, code, body)
            await message.ack()
        except asyncio.CancelledError:
            await asyncio.shield(message.nack(requeue=True))
            raise
        finally:
            if task is not None:
                self.running.discard(task)

    async def _answer(self, message: AbstractIncomingMessage) -> tuple[int, dict[str, Any]]:
        if not signed_by_service(self.settings.service_secret, message):
            return _error(403, "a housekeeping request must be signed by an alertbus service")
        try:
            thresholds = thresholds_of(message.body, Thresholds.from_settings(self.settings))
        except ValueError as exc:  # json's errors are ValueErrors too
            return _error(400, f"bad housekeeping request: {exc}")
        user = (message.headers or {}).get("user")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LEASE_WAIT
        while True:
            try:
                interval = self.settings.ingest.housekeeping_interval
                async with Leases(self.store).hold(NAME, interval, due_only=False) as lease:
                    report = await housekeep(HousekeepingQueries(self.store), self.rpc, thresholds, self.metrics,
                                             lease=lease, user=user if isinstance(user, str) else None)
                log.info("housekeeping on demand: %s", report.counts())
                return 200, report.body()
            except LeaseBusy:
                if loop.time() > deadline:
                    return _error(409, "housekeeping is running on another replica; try again shortly")
                await asyncio.sleep(0.2)

    async def _reply(self, message: AbstractIncomingMessage, code: int, body: dict[str, Any]) -> None:
        if not message.reply_to or self.channel is None:
            return
        reply = aio_pika.Message(json.dumps({"code": code, "body": body}).encode(), content_type="application/json",
                                 correlation_id=message.correlation_id)
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                await self.channel.default_exchange.publish(reply, routing_key=message.reply_to)
        except (TimeoutError, aio_pika.exceptions.AMQPError, OSError) as exc:
            log.warning("the housekeeping report could not be sent to %s: %r", message.reply_to, exc)


def _error(code: int, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"status": "error", "message": message, "code": code, "errors": None}
