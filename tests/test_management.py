"""Alerta's management endpoints on every service. The outage test stops a store: a store process of its own
(never the session's), under a small stack of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from services.embedded import EmbeddedStore

from .support import Stack, eventually, start_stack


@pytest_asyncio.fixture(scope="module")
async def isolated(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Stack, EmbeddedStore]]:
    store = EmbeddedStore(str(tmp_path_factory.mktemp("outage")))
    url = await store.start()
    try:
        async with start_stack(url) as stack:
            yield stack, store
    finally:
        store.stop()


async def get(stack: Stack, url: str) -> tuple[int, Any]:
    async with stack.session.get(url) as response:
        text = await response.text()
        return response.status, (await response.json()) if response.content_type == "application/json" else text


async def test_every_service_answers_the_management_routes(stack: Stack) -> None:
    for service, base in (("gateway", stack.url), ("query", stack.settings.gateway.query_url),
                          ("hooks", stack.settings.gateway.hooks_url)):
        for path in ("/_", "/management/gtg", "/api/management/gtg", "/management/status"):
            status, body = await get(stack, base + path)
            assert status == 200 and body["service"] == service, (service, path, body)
    status, body = await stack.request("GET", "/_?x=1", auth=False)
    assert status == 200 and body == {"status": "ok", "service": "gateway", "method": "GET", "args": {"x": "1"}}


async def test_status_and_manifest_describe_the_release(stack: Stack) -> None:
    status, body = await stack.request("GET", "/management/status", auth=False)
    assert status == 200 and body["application"] == "alertbus" and body["version"] not in ("", None)
    assert body["time"] > 1_600_000_000_000 and body["uptime"] >= 0 and isinstance(body["metrics"], list)
    status, manifest = await stack.request("GET", "/management/manifest", auth=False)
    assert status == 200 and manifest["release"] == body["version"]
    assert manifest["alertbus"]["label"] == "alertbus" and manifest["alertbus"]["release"] == body["version"]
    assert {"build", "date", "revision", "description"} <= set(manifest["alertbus"])


async def test_gtg_is_503_while_the_store_is_down_and_200_again_after(
        isolated: tuple[Stack, EmbeddedStore]) -> None:
    stack, store = isolated
    gtg = f"{stack.url}/management/gtg"
    assert (await get(stack, gtg))[0] == 200
    store.stop()
    try:
        (status, body), (query_status, _) = await asyncio.gather(
            get(stack, gtg), get(stack, f"{stack.settings.gateway.query_url}/management/gtg"))
        assert status == 503 and body["status"] == "error" and query_status == 503
        assert any(problem.startswith("store unavailable") for problem in body["problems"]), body
        assert (await get(stack, f"{stack.url}/_"))[0] == 200  # liveness does not depend on the store
    finally:
        await store.start()

    async def good() -> bool:
        return (await get(stack, gtg))[0] == 200

    await eventually(good, timeout=30)


async def test_healthcheck_names_each_stale_heartbeat(isolated: tuple[Stack, EmbeddedStore]) -> None:
    stack, _ = isolated
    url = f"{stack.url}/management/healthcheck"
    assert await get(stack, url) == (200, "OK")
    origins = [f"hc-{uuid.uuid4().hex[:8]}/{n}" for n in range(2)]
    for origin in origins:
        assert (await stack.request("POST", "/heartbeat", {"origin": origin, "timeout": 1}))[0] == 201

    async def both_stale() -> tuple[int, Any] | None:
        answer = await get(stack, url)
        return answer if answer[0] == 503 and len(answer[1].splitlines()) == 2 else None

    _, text = await eventually(both_stale, timeout=10)
    assert sorted(text.splitlines()) == sorted(f"HEARTBEAT_STALE: {origin}" for origin in origins)
    for origin in origins:
        assert (await stack.request("POST", "/heartbeat", {"origin": origin, "timeout": 600}))[0] == 201
    assert await get(stack, url) == (200, "OK")

