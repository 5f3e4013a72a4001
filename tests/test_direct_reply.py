"""RPC replies use RabbitMQ's direct reply-to (shared/broker.py): the request names the pseudo-queue, the broker
gives the worker a name for the requesting channel, and the reply published there reaches the waiting request —
no reply queue is declared."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from shared.broker import DIRECT_REPLY_TO, Names, RpcClient, connect
from tests.support import Stack, alert, unique
from tests.support.namespace import isolated_settings


async def test_concurrent_requests_each_get_their_own_reply(stack: Stack) -> None:
    """201 (the worker's reply arrived in time; without it the gateway answers 202) for many requests in flight
    at once on the gateway's one channel, each with its own alert."""
    resources = [unique() for _ in range(30)]
    answers = await asyncio.gather(*(stack.post_alert(alert(resource)) for resource in resources))
    assert [status for status, _ in answers] == [201] * len(resources), answers
    assert [body["alert"]["resource"] for _, body in answers] == resources


async def test_no_reply_queue_is_declared(store_url: str) -> None:
    async with isolated_settings(store_url, shards=1) as settings:
        connection = await connect(settings)
        async with connection:
            client = RpcClient(connection, settings)
            await client.start()
            assert client.channel is not None
            assert not hasattr(Names.from_settings(settings), "reply_queue")
            # The pseudo-queue is consumed on the publishing channel: declaring it passively there again is fine.
            await client.channel.declare_queue(DIRECT_REPLY_TO, passive=True)
            probe = await connection.channel()
            with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):  # no queue of the old naming
                await probe.declare_queue(f"{settings.broker_prefix}alertbus.reply", passive=True)
