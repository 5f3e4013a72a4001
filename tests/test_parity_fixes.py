"""Answers ``make parity`` found differing from Alerta 9.1 without a reason, now as Alerta gives them."""

from __future__ import annotations

from .support import Stack, alert, unique


async def test_get_on_a_post_only_path_is_405(stack: Stack) -> None:
    """``GET /alert`` is not a read for the query service: the path is served for POST (Alerta: 405 too)."""
    for path in ("/alert", "/api/alert", "/heartbeat", "/blackout"):
        status, body = await stack.request("GET", path)
        assert (status, body["code"]) == (405, 405), (path, body)
    status, body = await stack.request("GET", "/no/such/read")
    assert (status, body["message"]) == (404, "not found")


async def test_history_records_show_a_value_only_when_the_entry_has_one(stack: Stack) -> None:
    resource = unique()
    status, _ = await stack.post_alert(alert(resource, value=None))
    assert status == 201
    status, _ = await stack.post_alert(alert(resource, severity="critical", value="97%"))
    assert status == 201
    status, body = await stack.request("GET", f"/alerts/history?resource={resource}")
    assert status == 200
    newest, oldest = body["history"]
    assert (newest["type"], newest["value"]) == ("severity", "97%")
    assert oldest["type"] == "new" and "value" not in oldest
