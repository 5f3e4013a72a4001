"""Talking to a stack's broker namespace directly, as a direct AMQP publisher does: publish to the ingest
exchange, drain the dead-letter queue, the receive id a direct message gets; and the stack's own counters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import aio_pika

from services.ingest.processor import direct_namespace, direct_receive_id
from shared.broker import Names

from ..tcp_proxy import CuttableProxy
from .namespace import AMQP_URL
from .stack import Stack


async def publish(stack: Stack, body: bytes, *, routing_key: str, message_id: str | None = None,
                  kind: str = "alert") -> None:
    channel = await stack.connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(Names.from_settings(stack.settings).ingest)
    await exchange.publish(
        aio_pika.Message(body, content_type="application/json", type=kind, message_id=message_id,
                         delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key=routing_key,
    )
    await channel.close()


async def dead_letters(stack: Stack) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Drain the dead-letter queue (each test looks for its own message ids)."""
    channel = await stack.connection.channel()
    queue = await channel.declare_queue(Names.from_settings(stack.settings).dead, passive=True)
    found = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        found.append(message)
    await channel.close()
    return found


def direct_id(stack: Stack, message_id: str, user_id: str | None = None) -> str:
    """The receive id the worker gives a direct (unsigned) message published with ``message_id`` (and the
    broker-vouched ``user_id``, if any)."""
    return direct_receive_id(direct_namespace(stack.settings.service_secret), user_id, message_id)


def counter(stack: Stack, name: str, **labels: str) -> float:
    return stack.metrics.registry.get_sample_value(name, labels or None) or 0.0


@asynccontextmanager
async def broker_proxy() -> AsyncIterator[tuple[CuttableProxy, str]]:
    """A proxy in front of the shared RabbitMQ that a test can cut, and the ``AMQP_URL`` through it (services
    reconnect every second: ``reconnect_interval``; the default is 5 s)."""
    target = urlsplit(AMQP_URL)
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 5672)
    await proxy.start()
    url = f"amqp://{target.username}:{target.password}@127.0.0.1:{proxy.port}{target.path or '/'}?reconnect_interval=1"
    try:
        yield proxy, url
    finally:
        await proxy.close()
