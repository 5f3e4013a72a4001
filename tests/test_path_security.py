"""Dot segments and encoded slashes never open a keyed route: the path is normalised (or refused) before any
authentication decision, and a read is forwarded only when it was authorised as a keyed read."""

from __future__ import annotations

import pytest
from yarl import URL

from .support import Stack, alert, unique

OPEN = ["/_", "/management", "/management/gtg", "/config", "/metrics", "/openapi.json", "/api/_", "/api/management",
        "/api/config", "/api/metrics"]
DOTS = ["..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "..%2F..", "%2e%2e%2f..", "..%5c..", "%252e%252e"]
READS = ["alerts", "alerts/count", "alerts/history", "alerts/top10", "environments", "services", "heartbeats",
         "alerts?q=%7B%7D"]


async def raw_get(stack: Stack, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET exactly this path: the client must not resolve dot segments itself (curl --path-as-is)."""
    url = URL(stack.url + path, encoded=True)
    async with stack.session.get(url, headers=headers or {}) as resp:
        return resp.status, await resp.text()


@pytest.mark.parametrize("prefix", OPEN)
@pytest.mark.parametrize("dots", DOTS)
async def test_dot_segments_under_an_open_prefix_need_a_key(stack: Stack, prefix: str, dots: str) -> None:
    for read in READS:
        status, text = await raw_get(stack, f"{prefix}/{dots}/{read}")
        assert status in (400, 401, 404), (prefix, dots, read, status, text[:200])
        assert '"alerts"' not in text and '"heartbeats"' not in text


async def test_dot_segments_never_reach_alert_by_id_history_or_raw_data(stack: Stack) -> None:
    status, body = await stack.post_alert(alert(unique("dots"), rawData="secret-raw"))
    assert status == 201
    alert_id = body["id"]
    for path in [f"/_/../alert/{alert_id}", f"/_/%2e%2e/alert/{alert_id}", f"/management/..%2Falert/{alert_id}",
                 f"/api/_/%2e%2e/alert/{alert_id}", f"/config/%2e%2e/alert/{alert_id}/history",
                 f"/metrics/%2e%2e/alert/{alert_id}/raw"]:
        status, text = await raw_get(stack, path)
        assert status in (400, 401, 404), (path, status, text[:200])
        assert "secret-raw" not in text and alert_id not in text


async def test_a_path_with_dot_segments_is_refused_even_with_a_key(stack: Stack) -> None:
    for path in ["/alerts/../alerts", "/alerts/%2e%2e/alerts", "/x/..%2falerts", "/./alerts", "/alerts/."]:
        status, text = await raw_get(stack, path, stack.auth)
        assert status == 400 and "path" in text, (path, status, text[:200])


async def test_plain_open_routes_and_keyed_reads_still_work(stack: Stack) -> None:
    assert (await raw_get(stack, "/_"))[0] == 200
    assert (await raw_get(stack, "/management/gtg"))[0] == 200
    assert (await raw_get(stack, "/alerts"))[0] == 401
    assert (await raw_get(stack, "/alerts", stack.auth))[0] == 200
    assert (await raw_get(stack, "/api/alerts", stack.auth))[0] == 200
