"""The PagerDuty notifier: alert events (``alertbus.events``) that match ``PAGERDUTY_FILTER`` become Events API
v2 calls.

One message at a time (prefetch 1, single active consumer), so that notifications of one alert leave in
order. A 429, a 5xx or no answer is retried through the broker, never by sleeping here: the message is
republished to the delay queue with a growing ``expiration`` and an attempt header, and the original is
acknowledged only once the broker confirmed the copy. The delay queue dead-letters it back to the notifier
queue; after ``PAGERDUTY_MAX_ATTEMPTS`` it goes to ``alertbus.dlx``.

Its queues (names get ``BROKER_PREFIX`` in front), declared by the hooks service alone, when
``PAGERDUTY_ROUTING_KEY`` is set:

* ``alertbus.hooks.pagerduty`` — quorum queue bound to ``alertbus.events`` with ``alert.#`` (single active consumer:
  notifications leave in order);
* ``alertbus.hooks.pagerduty.retry`` holds a notification that PagerDuty refused for now (429, 5xx) for the
  message's ``expiration``, then dead-letters it back to ``alertbus.hooks.pagerduty`` via the default exchange.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from enum import Enum
from typing import Any

import aio_pika
import aiohttp
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from pamqp.commands import Basic

from shared.broker import Names, declare_topology
from shared.metrics import Metrics
from shared.settings import Settings
from shared.store import Store
from shared.webhooks import matches

from .events_api import TRIGGER, event_action, event_body, is_retryable, retry_delay_ms

log = logging.getLogger("alertbus.hooks.pagerduty")
ATTEMPT_HEADER = "x-alertbus-attempt"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)


class Outcome(Enum):
    SENT = "sent"          # PagerDuty accepted it: ack
    SKIPPED = "skipped"    # not for PagerDuty (filter, no action): ack
    STALE = "stale"        # a retry the alert has moved past (a newer event was sent): ack
    RETRY = "retried"      # try again later: republish to the delay queue, then ack
    DEAD = "dead"          # can never succeed, or out of attempts: reject to the dead-letter exchange


def _own_headers(message: AbstractIncomingMessage) -> dict[str, Any]:
    """The message's headers without the broker's bookkeeping (``x-death``, ``x-delivery-count`` ...)."""
    return {key: value for key, value in (message.headers or {}).items() if not key.startswith("x-")}


def attempt_of(message: AbstractIncomingMessage) -> int:
    try:
        return max(int((message.headers or {}).get(ATTEMPT_HEADER, 1)), 1)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1


async def declare_notifier_queues(channel: AbstractChannel, settings: Settings) -> tuple[AbstractQueue, AbstractQueue]:
    """The PagerDuty notifier's queue (bound to the events) and its delay queue; idempotent."""
    names = Names.from_settings(settings)
    events = await channel.declare_exchange(names.events, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(
        names.pagerduty, durable=True,
        arguments={"x-queue-type": "quorum", "x-single-active-consumer": True,
                   "x-delivery-limit": settings.max_deliveries + 1, "x-dead-letter-exchange": names.dlx},
    )
    await queue.bind(events, routing_key="alert.#")
    # Expired messages go back to the notifier queue. at-least-once dead-lettering (which needs
    # reject-publish overflow) keeps a message until the notifier queue has confirmed it.
    retry = await channel.declare_queue(
        names.pagerduty_retry, durable=True,
        arguments={"x-queue-type": "quorum", "x-dead-letter-exchange": "",
                   "x-dead-letter-routing-key": names.pagerduty, "x-overflow": "reject-publish",
                   "x-dead-letter-strategy": "at-least-once"},
    )
    return queue, retry


class Notifier:
    def __init__(self, connection: AbstractRobustConnection, settings: Settings, store: Store,
                 session: aiohttp.ClientSession, metrics: Metrics) -> None:
        self.connection, self.settings, self.store = connection, settings, store
        self.session, self.metrics = session, metrics
        self.names = Names.from_settings(settings)
        self.channel: AbstractChannel | None = None
        self.publisher: AbstractChannel | None = None
        self.consumer: tuple[Any, str] | None = None
        self.idle = asyncio.Event()
        self.idle.set()

    async def start(self) -> None:
        self.publisher = await self.connection.channel(publisher_confirms=True)
        await declare_topology(self.publisher, self.settings)  # the dead-letter exchange must exist
        self.channel = await self.connection.channel(publisher_confirms=False)
        await self.channel.set_qos(prefetch_count=1)
        queue, _ = await declare_notifier_queues(self.channel, self.settings)
        self.consumer = (queue, await queue.consume(self.handle, no_ack=False))
        log.info("PagerDuty notifier consuming %s", queue.name)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop consuming, let the message in hand finish (bounded), then close the channels."""
        if self.consumer is not None:
            queue, tag = self.consumer
            self.consumer = None
            try:
                await queue.cancel(tag)
            except Exception:  # the channel may be gone already; the broker requeues what was unacked
                log.debug("cancel of %s failed", queue.name, exc_info=True)
        try:
            async with asyncio.timeout(grace):
                await self.idle.wait()
        except TimeoutError:
            log.warning("a PagerDuty notification was still in flight at shutdown; it will be redelivered")
        for channel in (self.channel, self.publisher):
            if channel is not None and not channel.is_closed:
                await channel.close()

    async def handle(self, message: AbstractIncomingMessage) -> None:
        self.idle.clear()
        try:
            # Shielded: a shutdown must not cut a notification between its republish and its ack.
            await asyncio.shield(self._handle(message))
        finally:
            self.idle.set()

    async def _handle(self, message: AbstractIncomingMessage) -> None:
        attempt = attempt_of(message)
        try:
            outcome = await self.decide(message, attempt)
        except Exception:
            log.exception("PagerDuty notification %s failed unexpectedly", message.message_id)
            outcome = Outcome.RETRY
        if outcome is Outcome.RETRY and attempt >= self.settings.hooks.pagerduty_max_attempts:
            log.error("PagerDuty notification gave up after %d attempts; dead-lettered", attempt)
            outcome = Outcome.DEAD
        await self._settle(message, outcome, attempt)
        self.metrics.notifications.labels(outcome.value).inc()

    async def decide(self, message: AbstractIncomingMessage, attempt: int) -> Outcome:
        try:
            event = json.loads(message.body)
            kind, alert = str(event["event"]), event["alert"]
            alert_id = str(alert["id"])
        except (ValueError, KeyError, TypeError):
            log.error("alert event %s is not valid; dead-lettered", message.message_id)
            return Outcome.DEAD
        action = event_action(kind, alert)
        if action is None or not matches(self.settings.hooks.pagerduty_filter, alert, triggering=action == TRIGGER):
            return Outcome.SKIPPED
        if attempt > 1 and await self._moved_on(alert_id, action):
            return Outcome.STALE
        return await self.post(event_body(self.settings.hooks.pagerduty_routing_key, action, alert))

    async def _moved_on(self, alert_id: str, action: str) -> bool:
        """A retried notification whose action no longer fits the alert is stale: the change that made it so
        produced its own, newer event. Sending the old one late would, say, re-trigger a resolved incident."""
        try:
            doc = await self.store.get_alert(alert_id)
        except Exception:  # no store, no verdict: send it, PagerDuty's actions are idempotent
            log.warning("could not read alert %s to check a retried notification", alert_id)
            return False
        current = event_action("deleted" if doc is None else "status", doc or {})
        return current != action

    async def post(self, body: dict[str, Any]) -> Outcome:
        started = time.perf_counter()
        try:
            async with self.session.post(self.settings.hooks.pagerduty_events_url, json=body,
                                         timeout=REQUEST_TIMEOUT) as response:
                answer = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("PagerDuty did not answer (%s) for alert %s; retried later", type(exc).__name__,
                        body["dedup_key"])
            return Outcome.RETRY
        finally:
            self.metrics.notify_seconds.observe(time.perf_counter() - started)
        if response.status < 300:
            return Outcome.SENT
        if is_retryable(response.status):
            log.warning("PagerDuty answered %d for alert %s; retried later", response.status, body["dedup_key"])
            return Outcome.RETRY
        log.error("PagerDuty refused a %s event for alert %s with %d: %.300s", body["event_action"],
                  body["dedup_key"], response.status, answer.decode(errors="replace"))
        return Outcome.DEAD

    async def _settle(self, message: AbstractIncomingMessage, outcome: Outcome, attempt: int) -> None:
        """The one place where an outcome becomes ack, republish + ack, or reject."""
        if outcome is Outcome.DEAD:
            await message.reject(requeue=False)
            return
        if outcome is Outcome.RETRY:
            try:
                await self._republish(message, attempt)
            except Exception as exc:
                # The original returns to the queue; x-delivery-limit bounds how often this can happen.
                log.warning("could not queue a PagerDuty retry (%s); the event is redelivered", exc)
                await message.nack(requeue=True)
                return
        await message.ack()

    async def _republish(self, message: AbstractIncomingMessage, attempt: int) -> None:
        assert self.publisher is not None
        delay = retry_delay_ms(self.settings.hooks.pagerduty_retry_delay_ms, attempt)
        copy = aio_pika.Message(
            message.body, content_type=message.content_type or "application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=message.message_id,
            headers={**_own_headers(message), ATTEMPT_HEADER: attempt + 1}, expiration=timedelta(milliseconds=delay),
        )
        confirmation = await self.publisher.default_exchange.publish(
            copy, routing_key=self.names.pagerduty_retry, mandatory=True, timeout=10,
        )
        if not isinstance(confirmation, Basic.Ack):
            raise RuntimeError(f"broker refused the retry: {confirmation!r}")
