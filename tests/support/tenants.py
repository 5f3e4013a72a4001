"""Two customers' keys and the unbound admin key on a CUSTOMER_VIEWS stack (tests/test_customer_views*.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio

from . import Stack, alert, start_stack, unique


@dataclass
class Tenants:
    stack: Stack
    acme: str  # customer names (unique per run)
    globex: str
    keys: dict[str, str]  # customer -> its read/write key

    async def as_(self, customer: str | None, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A request with the customer's key (None: the unbound admin key)."""
        if customer is None:
            return await self.stack.request(method, path, body)
        headers = {"Authorization": f"Key {self.keys[customer]}"}
        return await self.stack.request(method, path, body, auth=False, headers=headers)


async def make_key(stack: Stack, customer: str, scopes: list[str]) -> str:
    status, body = await stack.request("POST", "/key", {"user": f"ops@{customer}.example", "scopes": scopes,
                                                        "customer": customer})
    assert status == 201 and body["data"]["customer"] == customer, body
    return str(body["key"])


@pytest_asyncio.fixture(scope="module")
async def tenants(store_url: str) -> AsyncIterator[Tenants]:
    async with start_stack(store_url, with_hooks=True, CUSTOMER_VIEWS="true") as stack:
        acme, globex = unique("Acme"), unique("Globex")
        keys = {name: await make_key(stack, name, ["read", "write"]) for name in (acme, globex)}
        yield Tenants(stack, acme, globex, keys)


async def post(t: Tenants, customer: str | None, body: dict[str, Any]) -> dict[str, Any]:
    status, reply = await t.as_(customer, "POST", "/alert", body)
    assert status == 201, reply
    return dict(reply["alert"])


async def two_alerts(t: Tenants, **extra: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """One resource, one alert of each customer (the same event: the customer is part of the identity)."""
    resource = unique()
    return resource, await post(t, t.acme, alert(resource, **extra)), await post(t, t.globex, alert(resource, **extra))
