"""The console's stream under CUSTOMER_VIEWS and with a login token: a stream opened with a customer's key carries
only that customer's alerts (what its reads would show), and a user's Bearer token opens a stream too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from .support import Stack, alert, start_stack, unique
from .support.tenants import make_key
from .test_accounts_login import bearer, log_in, make_user
from .test_console import Event, Sse


@pytest_asyncio.fixture(scope="module")
async def views(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url, CUSTOMER_VIEWS="true") as stack:
        yield stack


async def stream(stack: Stack, headers: dict[str, str]) -> Sse:
    resp = await stack.session.get(stack.url + "/stream", headers=headers)
    assert resp.status == 200, await resp.text()
    sse = Sse(resp)
    assert (await sse.next()).name == "ready"
    return sse


async def events_for(sse: Sse, resource: str, seconds: float) -> list[Event]:
    """Every alert event of ``resource`` the stream carries within ``seconds``."""
    seen: list[Event] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                event = await sse.next(seconds)
                if event.name == "alert" and event.data["alert"]["resource"] == resource:
                    seen.append(event)
    except TimeoutError:
        return seen


async def test_a_customers_stream_carries_only_its_customers_alerts(views: Stack) -> None:
    acme, globex = unique("Acme"), unique("Globex")
    acme_key = await make_key(views, acme, ["read", "write"])
    sse = await stream(views, {"Authorization": f"Key {acme_key}"})
    everything = await stream(views, views.auth)  # the unbound admin key
    try:
        resource = unique()
        for customer in (globex, acme):
            status, body = await views.post_alert(alert(resource, customer=customer))
            assert status == 201, body
        seen = await events_for(sse, resource, 3.0)
        assert {e.data["alert"]["customer"] for e in seen} == {acme}, seen
        seen_all = await events_for(everything, resource, 1.0)
        assert {e.data["alert"]["customer"] for e in seen_all} == {acme, globex}, seen_all
    finally:
        sse.resp.close()
        everything.resp.close()


async def test_a_login_token_opens_a_stream(views: Stack) -> None:
    user = await make_user(views, "admin")  # an admin user: bound to no customer
    sse = await stream(views, bearer(await log_in(views, user["email"], user["password"])))
    try:
        resource = unique()
        status, _ = await views.post_alert(alert(resource))
        assert status == 201
        seen = await events_for(sse, resource, 3.0)
        assert [e.data["event"] for e in seen] == ["created"], seen
    finally:
        sse.resp.close()
