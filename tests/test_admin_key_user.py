"""``ADMIN_KEY`` acts as the first of ``ADMIN_USERS``, as the key Alerta's container makes from ``ADMIN_KEY`` belongs
to that user: what it changes (history, notes, blackouts) names that user on both servers (found by
``make parity``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from .support import Stack, alert, created, fetch, unique
from .support.stack import start_stack


@pytest_asyncio.fixture(scope="module")
async def named_admin(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url, ADMIN_USERS="admin@alerta.io,ops@example.com") as stack:
        yield stack


async def test_admin_key_acts_as_the_first_admin_user(named_admin: Stack) -> None:
    alert_id = await created(named_admin)
    assert (await fetch(named_admin, alert_id))["history"][0]["user"] == "admin@alerta.io"
    status, body = await named_admin.request("PUT", f"/alert/{alert_id}/status", {"status": "ack", "text": "mine"})
    assert status == 200, body
    assert (await fetch(named_admin, alert_id))["history"][-1]["user"] == "admin@alerta.io"
    status, body = await named_admin.request("PUT", f"/alert/{alert_id}/note", {"text": "a note"})
    assert (status, body["note"]["user"]) == (201, "admin@alerta.io")
    status, body = await named_admin.request("POST", "/blackout", {"environment": "Production",
                                                                   "resource": unique()})
    assert (status, body["blackout"]["user"]) == (201, "admin@alerta.io")


async def test_admin_key_without_admin_users_stays_admin(stack: Stack) -> None:
    status, body = await stack.post_alert(alert(unique()))
    assert (status, body["alert"]["history"][0]["user"]) == (201, "admin")
