"""RabbitMQ topology, publisher (with confirms) and RPC client. Declared idempotently by every service.

Topology (names get ``BROKER_PREFIX`` in front):

* ``alertbus.ingest`` — ``x-consistent-hash`` exchange; routing key = ``<environment>/<resource>`` (alerts)
  or ``heartbeat/<origin>``, so that every message of one alert group lands in the same shard.
* ``alertbus.ingest.<n>`` — ``INGEST_SHARDS`` quorum queues bound with weight 1, single active consumer (so
  one worker at a time applies a shard, in order), ``x-delivery-limit`` = ``MAX_DELIVERIES`` and
  dead-lettering to ``alertbus.dlx``.
* ``alertbus.dlx`` (fanout) → ``alertbus.dead``: messages that failed or could never be processed.
* ``alertbus.events`` — topic exchange: after its write, the worker publishes what changed
  (``alert.created``, ``alert.severity``, ``alert.status``, ``alert.deleted``) with body
  ``{"event": ..., "alert": {...}}``, for notifiers such as the hooks service.
* ``alertbus.hooks.pagerduty`` — quorum queue bound to ``alertbus.events`` with ``alert.#``, declared by the
  hooks service when ``PAGERDUTY_ROUTING_KEY`` is set (single active consumer: notifications leave in order).
  ``alertbus.hooks.pagerduty.retry`` holds a notification that PagerDuty refused for now (429, 5xx) for the
  message's ``expiration``, then dead-letters it back to ``alertbus.hooks.pagerduty`` via the default exchange.
* Replies (RPC): the worker publishes to the default exchange with the request's ``reply_to`` and
  ``correlation_id``; the body is ``{"code": <http status>, "body": {...}}``.

Every message the services publish (``RpcClient.send``) is signed with ``SERVICE_SECRET`` (header
``x-alertbus-signature``): the ingest worker trusts the ``user`` header and the ``message_id`` of a signed message
only; anything else is a direct publish (see services/ingest/processor.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pamqp.commands import Basic

from .settings import Settings

ALERT, HEARTBEAT, COMMAND = "alert", "heartbeat", "command"
MAX_ROUTING_KEY = 255
SIGNATURE_HEADER = "x-alertbus-signature"


class BrokerUnavailable(RuntimeError):
    """The broker did not accept a message (down, unroutable, or nacked)."""


@dataclass(frozen=True)
class Names:
    ingest: str
    dlx: str
    dead: str
    prefix: str
    shards: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Names:
        p = settings.broker_prefix
        return cls(f"{p}alertbus.ingest", f"{p}alertbus.dlx", f"{p}alertbus.dead", p, settings.shards)

    @property
    def events(self) -> str:
        return f"{self.prefix}alertbus.events"

    @property
    def pagerduty(self) -> str:
        return f"{self.prefix}alertbus.hooks.pagerduty"

    @property
    def pagerduty_retry(self) -> str:
        return f"{self.pagerduty}.retry"

    @property
    def workers(self) -> str:
        """The ingest workers' presence queue: nothing is published to it, its consumer count is the number of
        live workers (see services/ingest/shards.py)."""
        return f"{self.ingest}.workers"

    def shard(self, index: int) -> str:
        return f"{self.ingest}.{index}"

    def reply_queue(self) -> str:
        return f"{self.prefix}alertbus.reply.{uuid.uuid4().hex}"


def routing_key(kind: str, payload: dict[str, Any]) -> str:
    """The hash key of a message: equal for all messages of one alert group (or heartbeat origin)."""
    if kind == HEARTBEAT or payload.get("op") == "delete-heartbeat":
        key = f"heartbeat/{payload.get('origin') or ''}"
    else:
        key = f"{payload.get('environment') or ''}/{payload.get('resource') or ''}"
    return key.encode()[:MAX_ROUTING_KEY].decode(errors="ignore")


def connection_name(settings: Settings, service: str) -> str:
    """How the broker lists a service's connection (``rabbitmqctl list_connections client_properties``, the
    management UI): the prefix keeps installations apart, the host and pid tell replicas apart."""
    return f"{settings.broker_prefix}alertbus-{service}@{socket.gethostname()}:{os.getpid()}"


async def connect(settings: Settings, timeout: float = 5.0, service: str = "service") -> AbstractRobustConnection:
    try:
        return await aio_pika.connect_robust(
            settings.amqp_url, timeout=timeout,
            client_properties={"connection_name": connection_name(settings, service)},
        )
    except (TimeoutError, OSError, aio_pika.exceptions.AMQPError) as exc:
        raise BrokerUnavailable(f"RabbitMQ at {_safe_url(settings.amqp_url)} did not answer: {exc!r}") from exc


def _safe_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port or 5672}{parts.path or '/'}"


async def declare_topology(
    channel: AbstractChannel, settings: Settings
) -> tuple[AbstractExchange, list[AbstractQueue]]:
    names = Names.from_settings(settings)
    dlx = await channel.declare_exchange(names.dlx, aio_pika.ExchangeType.FANOUT, durable=True)
    dead = await channel.declare_queue(names.dead, durable=True, arguments={"x-queue-type": "quorum"})
    await dead.bind(dlx)
    await channel.declare_exchange(names.events, aio_pika.ExchangeType.TOPIC, durable=True)
    try:
        exchange = await channel.declare_exchange(names.ingest, "x-consistent-hash", durable=True)
    except aio_pika.exceptions.ChannelClosed as exc:
        raise BrokerUnavailable(
            "RabbitMQ lacks the consistent-hash exchange; enable it with "
            "'rabbitmq-plugins enable rabbitmq_consistent_hash_exchange'"
        ) from exc
    queues = []
    for index in range(names.shards):
        queue = await channel.declare_queue(
            names.shard(index),
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-single-active-consumer": True,
                "x-delivery-limit": settings.max_deliveries + 1,
                "x-dead-letter-exchange": names.dlx,
            },
        )
        await queue.bind(exchange, routing_key="1")
        queues.append(queue)
    return exchange, queues


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


def sign(secret: str, kind: str, message_id: str, user: str | None, body: bytes) -> str:
    """HMAC-SHA256 over what the worker trusts a signed message for: its kind, its id (the receive id), its
    ``user`` header and its body. Each part is length-prefixed, so that no two messages share an input."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    # None and "" differ: a present user is marked by a leading byte.
    who = b"" if user is None else b"\x01" + user.encode("utf-8", "surrogatepass")
    for part in (kind.encode("utf-8", "surrogatepass"), message_id.encode("utf-8", "surrogatepass"), who, body):
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return "v1=" + mac.hexdigest()


def signed_by_service(secret: str, message: AbstractIncomingMessage) -> bool:
    """True when ``message`` carries a valid signature of ``secret`` (never without a secret). Headers arrive as
    whatever the publisher encoded (str, bytes, int ...): anything but the shapes ``sign`` makes is unsigned."""
    headers = message.headers or {}
    given, user = headers.get(SIGNATURE_HEADER), headers.get("user")
    if not secret or not isinstance(given, (str, bytes)) or not (user is None or isinstance(user, str)):
        return False
    kind, ident = message.type, message.message_id
    if not isinstance(kind, str) or not isinstance(ident, str):
        return False
    expected = sign(secret, kind, ident, user, message.body).encode()
    given_bytes = given.encode("utf-8", "surrogatepass") if isinstance(given, str) else given
    return hmac.compare_digest(expected, given_bytes)  # constant time: no prefix of a valid signature leaks


def ingest_message(kind: str, body: bytes, message_id: str, **props: Any) -> aio_pika.Message:
    return aio_pika.Message(
        body,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id,
        type=kind,
        **props,
    )


class RpcClient:
    """Publishes ingest messages with confirms; ``call`` also waits (bounded) for the worker's reply.

    Every wait is bounded, so that a request never hangs on the broker:

    * while the connection is down (the robust connection reconnects in the background), ``send`` fails at
      once with ``BrokerUnavailable`` instead of waiting for the reconnection;
    * a publish, confirmation included, takes at most ``RPC_TIMEOUT``; anything but a ``Basic.Ack`` (a nack, a
      return of an unroutable message, a confirmation lost with the connection) is ``BrokerUnavailable``;
    * when the connection is lost, callers waiting for a reply get ``None`` at once (their messages are
      confirmed, so queued; the replies would go to a reply queue that no longer exists), and so do they when
      the service shuts down (``release``).
    """

    def __init__(self, connection: AbstractRobustConnection, settings: Settings) -> None:
        self.connection = connection
        self.settings = settings
        self.names = Names.from_settings(settings)
        self.pending: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self.reply_to = self.names.reply_queue()
        self.exchange: AbstractExchange | None = None
        self.closing = False  # shutting down: calls no longer wait for replies

    async def start(self) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        self.exchange, _ = await declare_topology(channel, self.settings)
        reply_channel = await self.connection.channel(publisher_confirms=False)
        # Exclusive: deleted with the connection, declared again (same name) by the robust channel on reconnect.
        queue = await reply_channel.declare_queue(self.reply_to, exclusive=True, auto_delete=True)
        await queue.consume(self._on_reply, no_ack=True)
        self.connection.close_callbacks.add(self._on_connection_lost)

    def _on_connection_lost(self, *_: Any) -> None:
        self.release()

    def release(self) -> None:
        """Stop waiting for replies: every caller gets ``None`` now (its message is queued all the same)."""
        for future in self.pending.values():
            if not future.done():
                future.set_result(None)

    async def drain(self, timeout: float) -> None:
        """Shutdown: give the replies in flight up to ``timeout`` seconds, then release the callers; a call that
        starts from now on does not wait for its reply (the workers may be stopping too)."""
        self.closing = True
        deadline = asyncio.get_running_loop().time() + timeout
        while self.pending and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        self.release()

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self.pending.pop(message.correlation_id or "", None)
        if future is None or future.done():
            return  # the caller gave up waiting; the message was processed all the same
        try:
            future.set_result(json.loads(message.body))
        except ValueError as exc:
            future.set_exception(exc)

    @property
    def connected(self) -> bool:
        return self.connection.connected.is_set() and not self.connection.is_closed

    async def send(self, kind: str, payload: dict[str, Any], body: bytes, message_id: str,
                   headers: dict[str, Any] | None = None, reply: bool = False) -> None:
        assert self.exchange is not None, "RpcClient.start() was not awaited"
        if not self.connected:
            raise BrokerUnavailable("the connection to the broker is down (reconnecting)")
        headers = dict(headers or {})
        if self.settings.service_secret:
            user = headers.get("user")
            headers[SIGNATURE_HEADER] = sign(self.settings.service_secret, kind, message_id,
                                             user if isinstance(user, str) else None, body)
        props: dict[str, Any] = {"headers": headers}
        if reply:
            props.update(reply_to=self.reply_to, correlation_id=message_id)
        message = ingest_message(kind, body, message_id, **props)
        try:
            # The outer bound also covers waiting for a channel that is being restored.
            confirmation = await asyncio.wait_for(
                self.exchange.publish(message, routing_key=routing_key(kind, payload), mandatory=True,
                                      timeout=self.settings.rpc_timeout),
                self.settings.rpc_timeout,
            )
        except (TimeoutError, aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
            # No promise is made; but a confirmation lost with the connection may leave the message queued.
            raise BrokerUnavailable(f"the broker did not confirm the message (it may be queued all the same): "
                                    f"{exc!r}") from exc
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the caller is being cancelled
            raise BrokerUnavailable("the broker connection closed before the message was confirmed (it may be "
                                    "queued all the same)") from exc
        if not isinstance(confirmation, Basic.Ack):
            raise BrokerUnavailable(f"broker refused the message: {confirmation!r}")

    async def call(self, kind: str, payload: dict[str, Any], body: bytes, message_id: str,
                   headers: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Publish and wait for the reply; ``None`` when the worker did not answer in time, the connection was
        lost or the service is shutting down (the message is safely queued all the same)."""
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        try:
            await self.send(kind, payload, body, message_id, headers, reply=True)
            if self.closing:
                return None
            return await asyncio.wait_for(future, self.settings.rpc_timeout)
        except TimeoutError:
            return None
        finally:
            self.pending.pop(message_id, None)
