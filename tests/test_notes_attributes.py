"""Attribute updates (``PUT /alert/{id}/attributes``, what ``alerta update`` sends) through the real pipeline, with
Alerta 9.1's answers: merged into the alert's, a ``null`` deleting a key, no history entry; every hostile body a 400
naming the problem that changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import limits

from .support import Stack, assert_error, created, fetch


async def test_attribute_update_merges_and_null_deletes(stack: Stack) -> None:
    alert_id = await created(stack, attributes={"a": "1", "b": "2"})
    before = await fetch(stack, alert_id)
    body = {"attributes": {"a": None, "c": "3", "d": {"n": 1}}}
    assert await stack.request("PUT", f"/alert/{alert_id}/attributes", body) == (200, {"status": "ok"})
    after = await fetch(stack, alert_id)
    assert after["attributes"] == {"b": "2", "c": "3", "d": {"n": 1}}
    assert after["history"] == before["history"] and after["updateTime"] == before["updateTime"]
    assert await stack.request("PUT", f"/api/alert/{alert_id[:8]}/attributes", {"attributes": {"b": None}}) == (
        200, {"status": "ok"})
    assert (await fetch(stack, alert_id))["attributes"] == {"c": "3", "d": {"n": 1}}
    status, listed = await stack.request("GET", f"/alerts?attributes.c=3&id={alert_id}")
    assert status == 200 and listed["total"] == 1
    # Deleting every key is a success too (Alerta answers 500 "failed to update attributes").
    body = {"attributes": {"c": None, "d": None}}
    assert await stack.request("PUT", f"/alert/{alert_id}/attributes", body) == (200, {"status": "ok"})
    assert (await fetch(stack, alert_id))["attributes"] == {}


@pytest.mark.parametrize(("body", "words"), [
    ({}, "must supply 'attributes' as json data"),
    ({"attributes": {}}, "must supply 'attributes' as json data"),
    ({"attributes": None}, "must supply 'attributes' as json data"),
    ({"attributes": "x"}, "attributes"),
    ({"attributes": [1]}, "attributes"),
    ({"attributes": {"a.b": 1}}, "attributes"),
    ({"attributes": {"": 1}}, "attributes"),
    ({"attributes": {"k": "\ud800"}}, "attributes"),
    ({"attributes": {"k\x00": 1}}, "attributes"),
    ({"attributes": {"big": 2**64}}, "attributes"),
    ({"attributes": {f"k{i}": i for i in range(limits.ATTRIBUTE_KEYS + 1)}}, "attributes"),
    ({"attributes": {"blob": "b" * limits.ATTRIBUTES_BYTES}}, "attributes"),
    ({"attributes": json.loads("[" * (limits.MAX_DEPTH + 2) + "]" * (limits.MAX_DEPTH + 2))}, "attributes"),
    ({"attributes": {"a": json.loads("[" * (limits.MAX_DEPTH + 2) + "]" * (limits.MAX_DEPTH + 2))}}, "nested"),
    ([{"attributes": {"a": 1}}], "JSON object"),
])
async def test_hostile_attribute_updates_are_400_and_change_nothing(stack: Stack, body: Any, words: str) -> None:
    alert_id = await created(stack, attributes={"keep": "me"})
    assert_error(*await stack.request("PUT", f"/alert/{alert_id}/attributes", body), 400, words)
    assert (await fetch(stack, alert_id))["attributes"] == {"keep": "me"}
