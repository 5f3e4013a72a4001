"""The console's live feed: alert changes from the broker's events exchange, pushed to browsers as Server-Sent
Events on ``GET /stream``.

One consumer per gateway process, not one per browser: an exclusive, auto-deleted queue bound to
``alertbus.events`` (``alert.*`` and ``update.alert``) is declared when the first stream opens and cancelled a
while after the last one closed, so a gateway nobody watches takes no events. Each message is decoded and
encoded as an SSE frame once, then handed to every stream whose principal may see the alert (``visible``).

Each stream holds a bounded buffer: a browser that reads too slowly loses its buffered frames and gets one
``resync`` event instead (it reloads its page), so a slow reader costs bounded memory and never slows the
others. ``retry:`` tells the browser how soon to reconnect; a comment line every ``PING_SECONDS`` keeps proxies
from closing an idle stream and lets the browser notice a dead connection. While the broker connection is down
every stream gets ``broker-down``, and ``resync`` once it is back (events of the gap are lost; the page reloads).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aiohttp import web

from shared.auth import Principal, presented_key, presented_token
from shared.broker import UPDATED_KEY, Names
from shared.http import REQUEST_ID, ApiError, Handler, base_url, request_id
from shared.store import StoreUnavailable
from shared.tasks import cancel_and_wait
from shared.tokens import BadToken

from .auth import PRINCIPAL
from .console.headers import SECURITY_HEADERS
from .keys import KEYRING, RPC, SETTINGS, TOKENS
from .tenancy import bound

log = logging.getLogger("alertbus.gateway.stream")

PING_SECONDS = 15.0  # a comment line this often on an idle stream
RETRY_MS = 2000  # the browser's reconnect delay (the console backs off further itself)
BUFFER_FRAMES = 1000  # frames one stream may have waiting before it is told to resync instead
MAX_STREAMS = 5000  # streams one gateway process holds; beyond → 503
IDLE_SECONDS = 30.0  # the consumer stays this long after the last stream closed (a reload reuses it)
RECHECK_SECONDS = 30.0  # how often a stream's API key is checked again (revoked or expired: the stream ends)
DROPPED_FIELDS = ("history", "rawData")  # not in a list row; a detail view fetches the alert itself


def frame(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


RESYNC = frame("resync", {"reason": "events were missed"})


def visible(principal: Principal, alert: dict[str, Any]) -> bool:
    """May this principal see this alert? A read scope is needed; a principal limited to customers (the attribute
    ``customers``, a set, empty or absent meaning all) sees only their alerts."""
    if not principal.allows("read:alerts"):
        return False
    return not principal.customers or alert.get("customer") in principal.customers


class Subscriber:
    """One open stream: its principal and the frames waiting to be written."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.frames: deque[bytes] = deque()
        self.wake = asyncio.Event()
        self.closed = False
        self.resyncs = 0

    def push(self, data: bytes) -> None:
        if len(self.frames) >= BUFFER_FRAMES:  # too slow: what it missed is replaced by one resync
            self.frames.clear()
            self.resyncs += 1
            data = RESYNC
        self.frames.append(data)
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    async def take(self, timeout: float) -> bytes:
        """Everything waiting (b"" after ``timeout`` with nothing to write)."""
        if not self.frames and not self.closed:
            try:
                async with asyncio.timeout(timeout):
                    await self.wake.wait()
            except TimeoutError:
                return b""
        self.wake.clear()
        out = b"".join(self.frames)
        self.frames.clear()
        return out


class EventHub:
    """The process's one consumer of alert events and the streams it feeds."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.subscribers: set[Subscriber] = set()
        self.channel: AbstractChannel | None = None
        self.queue: AbstractQueue | None = None
        self.starting = asyncio.Lock()
        self.idle_since: float | None = None
        self.delivered = 0

    async def subscribe(self, principal: Principal) -> Subscriber:
        if len(self.subscribers) >= MAX_STREAMS:
            raise ApiError(503, f"this gateway holds {MAX_STREAMS} live streams already; try again later",
                           headers={"Retry-After": "30"})
        subscriber = Subscriber(principal)
        self.subscribers.add(subscriber)  # first: the janitor never stops a consumer a stream is waiting for
        self.idle_since = None
        try:
            await self._start()
        except Exception as exc:  # the broker connection is down (it reconnects by itself)
            self.unsubscribe(subscriber)
            raise ApiError(503, f"live updates are unavailable: the message broker cannot be reached "
                                f"({type(exc).__name__}); try again shortly", headers={"Retry-After": "5"}) from None
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers:
            self.idle_since = time.monotonic()

    async def _start(self) -> None:
        async with self.starting:
            if self.queue is not None:
                return
            rpc = self.app[RPC]
            names = Names.from_settings(self.app[SETTINGS])
            channel = await rpc.connection.channel(publisher_confirms=False)
            exchange = await channel.declare_exchange(names.events, aio_pika.ExchangeType.TOPIC, durable=True)
            queue = await channel.declare_queue(f"{names.prefix}alertbus.console.{uuid.uuid4().hex}",
                                                exclusive=True, auto_delete=True)
            for key in ("alert.*", UPDATED_KEY):
                await queue.bind(exchange, routing_key=key)
            await queue.consume(self._on_message, no_ack=True)
            self.channel, self.queue = channel, queue

    async def stop(self) -> None:
        """Close the consumer's channel (the queue goes with it)."""
        channel, self.channel, self.queue = self.channel, None, None
        if channel is not None and not channel.is_closed:
            try:
                await channel.close()
            except Exception as exc:  # the connection may be gone already
                log.debug("closing the stream channel: %r", exc)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = json.loads(message.body)
            kind, alert = str(event["event"]), dict(event["alert"])
        except (ValueError, KeyError, TypeError):
            log.warning("an alert event that is not valid JSON was skipped")
            return
        for name in DROPPED_FIELDS:
            alert.pop(name, None)
        data = frame("alert", {"event": kind, "alert": alert})
        for subscriber in self.subscribers:
            if visible(subscriber.principal, alert):
                subscriber.push(data)
                self.delivered += 1

    def broadcast(self, data: bytes) -> None:
        for subscriber in self.subscribers:
            subscriber.push(data)

    def close_all(self) -> None:
        for subscriber in list(self.subscribers):
            subscriber.close()


HUB = web.AppKey("event_hub", EventHub)


async def stream_context(app: web.Application) -> AsyncIterator[None]:
    """The hub, after the broker connection (broker_context) is open; a janitor stops the idle consumer."""
    hub = app[HUB] = EventHub(app)
    connection = app[RPC].connection
    connection.close_callbacks.add(lambda *_: hub.broadcast(frame("broker-down", {})))
    connection.reconnect_callbacks.add(lambda *_: hub.broadcast(RESYNC))
    janitor = asyncio.create_task(_stop_when_idle(hub), name="stream-janitor")
    yield
    await cancel_and_wait([janitor])
    hub.close_all()
    await hub.stop()


async def _stop_when_idle(hub: EventHub) -> None:
    while True:
        await asyncio.sleep(IDLE_SECONDS / 3)
        async with hub.starting:  # not while a stream is starting the consumer
            idle = hub.idle_since is not None and time.monotonic() - hub.idle_since >= IDLE_SECONDS
            if idle and not hub.subscribers:
                hub.idle_since = None
                await hub.stop()


async def close_streams(app: web.Application) -> None:
    """On shutdown, before in-flight requests are waited for: end every stream (browsers reconnect elsewhere)."""
    if HUB in app:
        app[HUB].close_all()


async def stream(request: web.Request) -> web.StreamResponse:
    """``GET /stream``: alert changes as Server-Sent Events (``alert``, ``resync``, ``broker-down``), for a
    principal with the read scope."""
    # The customers the stream is limited to are those its reads are (CUSTOMER_VIEWS; services/gateway/tenancy.py).
    principal = replace(request[PRINCIPAL], customers=bound(request))
    if not principal.allows("read:alerts"):
        raise ApiError(403, "missing required scope 'read:alerts'")
    hub = request.app[HUB]
    subscriber = await hub.subscribe(principal)
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no", REQUEST_ID: request_id(request), **SECURITY_HEADERS})
    try:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n".encode() + frame("ready", {"time": time.time()}))
        checked = time.monotonic()
        while not subscriber.closed:
            data = await subscriber.take(PING_SECONDS)
            if time.monotonic() - checked >= RECHECK_SECONDS:
                checked = time.monotonic()
                if not await still_valid(request):
                    await response.write(frame("unauthorized", {"message": "the API key was revoked or expired"}))
                    break
            await response.write(data or b": ping\n\n")
    except ConnectionResetError:  # the client went away (a closed tab, a reload): how every stream ends
        log.debug("a stream's client went away")
    finally:
        hub.unsubscribe(subscriber)
    return response


async def still_valid(request: web.Request) -> bool:
    """Is the key that opened this stream still valid? A stream outlives any one request, so a revoked or expired
    key must not keep receiving alerts: checked every ``RECHECK_SECONDS`` (cached lookups: no store round-trip
    most of the time). A store outage keeps the stream (the keyring answers from its cache, as for requests)."""
    if not request.app[SETTINGS].auth_required:
        return True
    token = presented_token(request)
    if token is not None:  # a login token: valid until it expires (its signature cannot change)
        try:
            request.app[TOKENS].principal(token, base_url(request))
        except BadToken:
            return False
        return True
    key = presented_key(request)
    if not key:
        return True
    try:
        return await request.app[KEYRING].authenticate(key) is not None
    except StoreUnavailable:
        return True


STREAM_ROUTES: list[tuple[str, str, Handler]] = [("GET", "/stream", stream)]
