"""RabbitMQ topology, publisher (with confirms) and RPC client. Declared idempotently by every service that connects
to the broker (gateway, ingest, hooks; the query service has no broker connection).

Topology (names get ``BROKER_PREFIX`` in front):

* ``alertbus.ingest`` — ``x-consistent-hash`` exchange; routing key = ``<environment>/<resource>`` (alerts)
  or ``heartbeat/<origin>``, so that every message of one alert group lands in the same shard.
* ``alertbus.ingest.<n>`` — ``INGEST_SHARDS`` quorum queues bound with weight 1, single active consumer (so
  one worker at a time applies a shard, in order), ``x-delivery-limit`` = ``MAX_DELIVERIES`` + 1 (the
  worker dead-letters a message itself on its last try; the broker's limit is the backstop) and
  dead-lettering to ``alertbus.dlx``.
* ``alertbus.ingest.housekeeping`` — quorum queue, through the default exchange: requests to run housekeeping now,
  taken by any ingest worker (services/ingest/on_demand.py).
* ``alertbus.dlx`` (fanout) → ``alertbus.dead``: messages that failed or could never be processed.
* ``alertbus.events`` — topic exchange: after its write, the worker publishes what changed
  (``alert.created``, ``alert.severity``, ``alert.status``, ``alert.deleted``) with body ``{"event": ...,
  "alert": {...}}``, for notifiers such as the hooks service; and ``heartbeat.due`` for the heartbeat watch. Any
  other change of an alert (a duplicate, tags, attributes, notes) is ``{"event": "updated", ...}`` under the key
  ``UPDATED_KEY`` (``update.alert``), outside ``alert.#``: notifiers do not take it, the console's stream does.
* ``alertbus.hooks.pagerduty`` (and ``.retry``) — the PagerDuty notifier's queues, declared by the hooks service
  alone (see services/hooks/notifier.py).
* Replies (RPC): RabbitMQ's direct reply-to — the services publish requests with ``reply_to`` =
  ``amq.rabbitmq.reply-to`` on the channel that consumes that pseudo-queue, and the worker publishes its reply to
  the default exchange with the ``reply_to`` it was given (the broker's name for that channel) and the request's
  ``correlation_id``; the body is ``{"code": <http status>, "body": {...}}``. No reply queue exists: the broker
  hands the reply straight to the waiting channel (nothing enqueued, stored or acknowledged), and a reply whose
  channel is gone is dropped — as one to a deleted reply queue was.

Every message the services publish (``RpcClient``) is signed with ``SERVICE_SECRET`` (header
``x-alertbus-signature``): the ingest worker trusts the ``user`` header and the ``message_id`` of a signed message
only; anything else is a direct publish (see services/ingest/processor.py).

With ``GATEWAY_BROKER_USER`` the services' alerts and heartbeats are validated once: see shared/vouching.py.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from pamqp.commands import Basic

from .broker_errors import explain
from .metrics import Metrics
from .replies import PendingReplies, Reply, encode
from .settings import Settings
from .signing import SIGNATURE_HEADER, sign
from .vouching import validated_body, vouched_user

if TYPE_CHECKING:  # the backlog module builds publishers on this one
    from .backlog import Backlog

ALERT, HEARTBEAT, COMMAND, HOUSEKEEPING = "alert", "heartbeat", "command", "housekeeping"
UPDATED_KEY = "update.alert"  # routing key of an alert change that is no created/severity/status/deleted event
MAX_ROUTING_KEY = 255
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


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

    @property
    def housekeeping(self) -> str:
        """Requests to run housekeeping now (``POST /management/housekeeping``), taken by any ingest worker (see
        services/ingest/on_demand.py); published to the default exchange."""
        return f"{self.ingest}.housekeeping"

    def shard(self, index: int) -> str:
        return f"{self.ingest}.{index}"


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
        raise BrokerUnavailable(explain(settings.amqp_url, exc)) from exc


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
    await channel.declare_queue(names.housekeeping, durable=True, arguments={"x-queue-type": "quorum"})
    return exchange, queues


class RpcClient:
    """The one door to the ingest workers: ``send_alert``, ``send_heartbeat``, ``send_command`` and
    ``request_housekeeping``, each answering a ``Reply``. Behind it, once: encoding, message ids, signatures,
    confirms, timing (the publish until RabbitMQ confirmed, in ``alertbus_broker_publish_seconds``) and reply
    parsing. Every wait is bounded:

    * while the connection is down (it reconnects in the background), a send fails at once: ``BrokerUnavailable``;
    * a publish, confirmation included, takes at most ``RPC_TIMEOUT``; anything but a ``Basic.Ack`` (a nack, a
      return of an unroutable message, a confirmation lost with the connection) is ``BrokerUnavailable``;
    * a reply is waited for at most ``RPC_TIMEOUT``, and not at all once the connection is lost (it would go to a
      reply queue that no longer exists) or the service shuts down (``drain``): the reply is then *queued*.
    """

    def __init__(self, connection: AbstractRobustConnection, settings: Settings,
                 metrics: Metrics | None = None, backlog: Backlog | None = None) -> None:
        self.connection, self.settings, self.metrics, self.backlog = connection, settings, metrics, backlog
        self.names = Names.from_settings(settings)
        self.vouched = vouched_user(settings)
        self.replies = PendingReplies(settings.rpc_timeout)
        self.exchange: AbstractExchange | None = None
        self.channel: AbstractChannel | None = None

    async def start(self) -> None:
        self.channel = channel = await self.connection.channel(publisher_confirms=True)
        self.exchange, _ = await declare_topology(channel, self.settings)
        # Direct reply-to (module doc): consumed on the publishing channel, before any request names it, without
        # acks (the broker requires both). The robust channel restores the consumer before it publishes again.
        replies = await channel.declare_queue(DIRECT_REPLY_TO, passive=True)
        await replies.consume(self._on_reply, no_ack=True)
        self.connection.close_callbacks.add(self._on_connection_lost)

    def _on_connection_lost(self, *_: Any) -> None:
        self.replies.release()

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        self.replies.deliver(message.correlation_id or "", message.body)

    async def drain(self, timeout: float) -> None:
        """Shutdown: see ``PendingReplies.drain``."""
        await self.replies.drain(timeout)

    @property
    def connected(self) -> bool:
        return self.connection.connected.is_set() and not self.connection.is_closed

    async def send_alert(self, alert: dict[str, Any], wire: bytes | dict[str, Any], *, user: str | None,
                         request_id: str | None = None, wait: bool = True) -> Reply:
        """``alert``: validated (it routes the message); ``wire``: the body as received (bytes) or as built."""
        return await self._request(ALERT, alert, wire, user, request_id, wait)

    async def send_heartbeat(self, heartbeat: dict[str, Any], wire: bytes | dict[str, Any], *, user: str | None,
                             request_id: str | None = None, wait: bool = True) -> Reply:
        return await self._request(HEARTBEAT, heartbeat, wire, user, request_id, wait)

    async def send_command(self, command: dict[str, Any], *, user: str | None, request_id: str | None = None,
                           wait: bool = True) -> Reply:
        return await self._request(COMMAND, command, command, user, request_id, wait)

    async def request_housekeeping(self, request: dict[str, Any], *, user: str | None, timeout: float) -> Reply:
        """Ask an ingest worker to run housekeeping now and wait up to ``timeout`` seconds for its report (queued:
        none came). The request expires unread after ``timeout``, so a worker that starts later does not run it."""
        return await self._request(HOUSEKEEPING, request, request, user, None, True, timeout=timeout)

    async def _request(self, kind: str, payload: dict[str, Any], wire: bytes | dict[str, Any], user: str | None,
                       request_id: str | None, wait: bool, timeout: float | None = None) -> Reply:
        """Publish; with ``wait``, wait (bounded) for the reply. A reply without a code is queued: not waited for,
        not answered in time, the connection lost or the service shutting down. ``payload`` of an alert or a
        heartbeat is its schema's result: sent as it is where the broker vouches for the sender (module doc)."""
        vouched = self.vouched if kind in (ALERT, HEARTBEAT) else None
        body = validated_body(payload) if vouched else wire if isinstance(wire, bytes) else encode(wire)
        message_id = str(uuid.uuid4())
        headers: dict[str, Any] = {"user": user} if request_id is None else {"user": user, "request_id": request_id}
        if not wait:
            await self._publish(kind, payload, body, message_id, headers, user_id=vouched)
            return Reply(message_id, kind)
        future = self.replies.expect(message_id)
        try:
            await self._publish(kind, payload, body, message_id, headers, reply=True, expiration=timeout,
                                user_id=vouched)
            answer = await self.replies.wait(future, timeout)
        finally:
            self.replies.forget(message_id)
        return Reply(message_id, kind) if answer is None else Reply(message_id, kind, *answer)

    async def _publish(self, kind: str, payload: dict[str, Any], body: bytes, message_id: str,
                       headers: dict[str, Any], reply: bool = False, expiration: float | None = None,
                       user_id: str | None = None) -> None:
        assert self.exchange is not None and self.channel is not None, "RpcClient.start() was not awaited"
        if not self.connected:
            raise BrokerUnavailable(f"the connection to the broker is down (reconnecting): the {kind} was not sent")
        if self.backlog is not None and kind != HOUSEKEEPING:
            self.backlog.check(kind)  # Backlogged: not sent
        if self.settings.service_secret:
            user = headers.get("user")
            headers[SIGNATURE_HEADER] = sign(self.settings.service_secret, kind, message_id,
                                             user if isinstance(user, str) else None, body)
        message = aio_pika.Message(
            body, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT, type=kind,
            message_id=message_id, headers=headers, reply_to=DIRECT_REPLY_TO if reply else None,
            correlation_id=message_id if reply else None, expiration=expiration, user_id=user_id,
        )
        # Alerts, heartbeats and commands go to their shard; a housekeeping request to the queue any worker takes.
        exchange, key = ((self.channel.default_exchange, self.names.housekeeping) if kind == HOUSEKEEPING
                         else (self.exchange, routing_key(kind, payload)))
        started = time.perf_counter()
        try:
            # The outer bound also covers waiting for a channel that is being restored.
            async with asyncio.timeout(self.settings.rpc_timeout):
                confirmation = await exchange.publish(message, routing_key=key, mandatory=True,
                                                      timeout=self.settings.rpc_timeout)
        except (TimeoutError, aio_pika.exceptions.AMQPError, OSError, RuntimeError) as exc:
            # No promise is made; but a confirmation lost with the connection may leave the message queued.
            raise BrokerUnavailable(f"the broker did not confirm the {kind} (it may be queued all the same): "
                                    f"{exc!r}") from exc
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the caller is being cancelled
            raise BrokerUnavailable(f"the broker connection closed before the {kind} was confirmed (it may be "
                                    "queued all the same)") from exc
        if not isinstance(confirmation, Basic.Ack):
            raise BrokerUnavailable(f"the broker refused the {kind}: {confirmation!r}")
        if self.metrics is not None:
            self.metrics.publish_seconds.observe(time.perf_counter() - started)
