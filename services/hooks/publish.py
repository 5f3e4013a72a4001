"""Alerts from webhooks travel exactly like the gateway's: published with confirms on the ingest exchange, routed by
the alert's ``<environment>/<resource>``, answered by the worker (bounded wait)."""

from __future__ import annotations

import asyncio
from typing import Any

from shared.broker import ALERT, RpcClient, routing_key
from shared.replies import Reply


async def send_alerts(rpc: RpcClient, alerts: list[tuple[dict[str, Any], dict[str, Any]]], *, user: str,
                      request_id: str, wait: bool) -> list[Reply]:
    """Publish ``(wire body, validated alert)`` pairs; the worker's replies, in order (all queued without
    ``wait``). Alerts of one group are published one after the other, so that their order holds; different groups
    go in parallel. Should the broker fail (``BrokerUnavailable``), some alerts of the batch may be queued already:
    the sender retries the batch on a 5xx, and a repeated alert is a duplicate, not a loss."""
    replies: list[Reply | None] = [None] * len(alerts)
    chains: dict[str, list[int]] = {}
    for index, (_, alert) in enumerate(alerts):
        chains.setdefault(routing_key(ALERT, alert), []).append(index)

    async def publish(indices: list[int]) -> None:
        for index in indices:
            wire, alert = alerts[index]
            replies[index] = await rpc.send_alert(alert, wire, user=user, request_id=request_id, wait=wait)

    await asyncio.gather(*(publish(indices) for indices in chains.values()))
    return [reply for reply in replies if reply is not None]
