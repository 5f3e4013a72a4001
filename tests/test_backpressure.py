"""Backpressure (shared/backlog.py): with no worker taking messages, the ingest backlog reaches MAX_BACKLOG and
every write is refused at once with 503 and Retry-After — alerts (201 and 202 paths), heartbeats, commands and
webhooks through the hooks service — while reads and health checks answer; once a worker drains the backlog,
writes are accepted again, and every write accepted before the bound is stored."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import pytest
from aio_pika.abc import AbstractRobustConnection

from shared.backlog import POLL, RETRY_AFTER, Backlog
from shared.settings import Settings

from .support import Stack, alert, eventually, start_stack, unique
from .support.webhooks import alertmanager, am_alert

LIMIT = 30


async def post(stack: Stack, path: str, body: Any, **headers: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with stack.session.post(stack.url + path, json=body, headers={**stack.auth, **headers}) as resp:
        return resp.status, await resp.json(content_type=None), dict(resp.headers)


async def test_writes_beyond_the_backlog_bound_get_503_with_retry_after_and_nothing_accepted_is_lost(
        store_url: str) -> None:
    async with start_stack(store_url, with_hooks=True, MAX_BACKLOG=LIMIT) as stack:
        _, first, _ = await post(stack, "/alert", alert(unique("kept")))
        await stack.workers.pop().stop(grace=1)  # nothing takes messages from now on
        accepted: list[str] = []
        refused = None
        for n in range(20 * LIMIT):  # far more than the bound: the gateway must start refusing
            status, body, headers = await post(stack, "/alert", alert(unique(f"flood{n}")), Prefer="respond-async")
            if status == 202:
                accepted.append(body["id"])
            else:
                refused = (status, body, headers)
                break
            if n % LIMIT == 0:
                await asyncio.sleep(POLL)  # let the gateway read the queues
        assert refused is not None, f"{len(accepted)} writes accepted, none refused"
        status, body, headers = refused
        assert status == 503 and headers["Retry-After"] == str(RETRY_AFTER), refused
        assert body["status"] == "error" and "MAX_BACKLOG" in body["message"]
        assert LIMIT <= len(accepted) < 4 * LIMIT, "the bound holds, give or take one poll's worth"

        started = time.monotonic()
        assert (await post(stack, "/alert", alert(unique("sync"))))[0] == 503, "the 201 path is refused too"
        assert (await post(stack, "/heartbeat", {"origin": unique("hb")}))[0] == 503
        tag = await post(stack, f"/alert/{first['id']}/tag", {"tags": ["x"]})
        assert tag[0] == 503 and tag[2]["Retry-After"] == str(RETRY_AFTER)
        hooked = await post(stack, "/webhooks/prometheus", alertmanager(am_alert()))
        assert hooked[0] == 503 and hooked[2]["Retry-After"] == str(RETRY_AFTER), hooked
        assert time.monotonic() - started < 2.0, "refused at once, not after a publish timeout"
        for path in ("/alerts", "/alerts/count", f"/alert/{first['id']}", "/management/healthcheck"):
            assert (await stack.request("GET", path))[0] == 200, path
        refusals = stack.metrics.registry.get_sample_value("alertbus_backlog_refused_total", {"kind": "alert"})
        assert refusals is not None and refusals >= 2

        await stack.start_worker()  # the backlog drains: writes are accepted again, and nothing was lost

        async def accepting() -> bool:
            return (await post(stack, "/alert", alert(unique("after"))))[0] == 201

        assert await eventually(accepting, timeout=30)

        async def all_stored() -> bool:
            return all([await stack.store.get_alert(ident) is not None for ident in accepted])

        assert await eventually(all_stored, timeout=30)
        backlog = stack.metrics.registry.get_sample_value("alertbus_ingest_backlog")
        assert backlog is not None and backlog < LIMIT


async def test_no_bound_reads_nothing(store_url: str) -> None:
    """MAX_BACKLOG=0: no polling, and writes are never refused for the backlog."""
    async with start_stack(store_url, MAX_BACKLOG=0) as stack:
        await stack.workers.pop().stop(grace=1)
        statuses = [(await post(stack, "/alert", alert(unique("free")), Prefer="respond-async"))[0]
                    for _ in range(10)]
        await asyncio.sleep(POLL * 1.5)
        statuses += [(await post(stack, "/alert", alert(unique("free")), Prefer="respond-async"))[0]]
        assert statuses == [202] * 11
        assert stack.metrics.registry.get_sample_value("alertbus_ingest_backlog") == 0


async def test_the_watch_ends_when_cancelled_as_a_reading_completes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cancel and the end of a reading in one turn of the loop: Python 3.11's ``wait_for`` returned the reading
    and dropped the cancel, and the watch went on (seen: a gateway's shutdown waiting on it until ``alertbus run``
    killed the gateway after 30 s). The watch must end at that one cancel."""
    backlog = Backlog(Settings.from_env({"MAX_BACKLOG": "10"}))
    readings: list[asyncio.Future[int]] = []

    async def read(connection: object) -> int:
        readings.append(asyncio.get_running_loop().create_future())
        return await readings[-1]

    monkeypatch.setattr(backlog, "read", read)
    backlog.start(cast(AbstractRobustConnection, None))
    while not readings:
        await asyncio.sleep(0)
    watch = backlog.task
    assert watch is not None

    def answer_and_cancel() -> None:  # one turn of the loop
        readings[-1].set_result(3)
        watch.cancel()

    asyncio.get_running_loop().call_soon(answer_and_cancel)
    done, _ = await asyncio.wait([watch], timeout=3)  # waits without cancelling anything itself
    if not done:
        watch.cancel()  # a second cancel ends what the first one missed
    assert done and watch.cancelled(), f"the watch went on: {len(readings)} readings"
    await backlog.stop()  # and stop() ends at once, the watch being over
