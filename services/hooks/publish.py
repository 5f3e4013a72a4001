"""Alerts and commands from webhooks travel exactly like the gateway's: published with confirms on the ingest
exchange, routed by the alert's ``<environment>/<resource>``, answered by the worker (bounded wait)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from shared.broker import ALERT, COMMAND, BrokerUnavailable, RpcClient, routing_key
from shared.http import ApiError

Reply = dict[str, Any] | None  # None: the worker did not answer in time, the message is queued all the same


def _wire(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def send_command(rpc: RpcClient, command: dict[str, Any], headers: dict[str, Any]) -> Reply:
    try:
        return await rpc.call(COMMAND, command, _wire(command), str(uuid.uuid4()), headers)
    except BrokerUnavailable as exc:
        raise ApiError(503, f"message broker unavailable, command not accepted: {exc}") from None


async def send_alerts(rpc: RpcClient, alerts: list[tuple[dict[str, Any], dict[str, Any]]],
                      headers: dict[str, Any], wait: bool) -> tuple[list[str], list[Reply]]:
    """Publish ``(wire body, validated alert)`` pairs; returns their receive ids and the worker's replies
    (all None without ``wait``). Alerts of one group are published one after the other, so that their
    order holds; different groups go in parallel."""
    ids = [str(uuid.uuid4()) for _ in alerts]
    replies: list[Reply] = [None] * len(alerts)
    chains: dict[str, list[int]] = {}
    for index, (_, alert) in enumerate(alerts):
        chains.setdefault(routing_key(ALERT, alert), []).append(index)

    async def publish(indices: list[int]) -> None:
        for index in indices:
            wire, alert = alerts[index]
            if wait:
                replies[index] = await rpc.call(ALERT, alert, _wire(wire), ids[index], headers)
            else:
                await rpc.send(ALERT, alert, _wire(wire), ids[index], headers)

    try:
        await asyncio.gather(*(publish(indices) for indices in chains.values()))
    except BrokerUnavailable as exc:
        # Some alerts of the batch may be queued already; the sender retries the batch on a 5xx and a
        # repeated alert is a duplicate, not a loss.
        raise ApiError(503, f"message broker unavailable, alerts not accepted: {exc}") from None
    return ids, replies
