"""Validate once (shared/vouching.py, services/ingest/vouched.py): a message RabbitMQ vouches came from the
services' broker user (``user_id`` = ``GATEWAY_BROKER_USER``) is taken as the gateway validated it; every other
message — no ``user_id``, another user's, or a body not in the validated shape — is validated in full, and a hostile
one is dead-lettered as before. Against the real broker and store where a message travels."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio

from services.ingest import processor
from services.ingest.groups import Settle
from services.ingest.processor import Processor
from shared.broker import Names
from shared.metrics import Metrics
from shared.schemas import ALERT_SCHEMA, HEARTBEAT_SCHEMA, load_body
from shared.settings import Settings
from shared.vouching import validated_body

from .support import Stack, alert, eventually, start_stack, unique
from .support.broker import dead_letters
from .test_direct_publish import message as amqp_message

GATEWAY_USER = "alertbus-gateway"
HOSTILE: dict[str, dict[str, Any]] = {
    "unknown severity": {"severity": "apocalyptic"},
    "date out of range": {"createTime": "0001-01-01T00:00:00+01:00"},
    "resource too long": {"resource": "r" * 100_000},
    "attribute key with a dollar": {"attributes": {"$where": "1"}},
    "tags not a list": {"tags": "a,b"},
}


def incoming(body: bytes, user_id: str | None, kind: str = "alert") -> Any:
    return SimpleNamespace(type=kind, body=body, message_id=str(uuid.uuid4()), headers={}, user_id=user_id,
                           redelivered=False)


def hostile_in_validated_shape(problem: dict[str, Any]) -> bytes:
    """A hostile alert written exactly as the gateways write a validated one (every field, ISO dates)."""
    shape = {**load_body(ALERT_SCHEMA, alert(unique())), "createTime": None, **problem}
    return json.dumps(shape).encode()


def raw_hostile(problem: dict[str, Any]) -> bytes:
    """A hostile alert as a direct publisher writes one (only some fields)."""
    return json.dumps({**alert(unique()), **problem}).encode()


@pytest.fixture
def decoder(monkeypatch: pytest.MonkeyPatch) -> tuple[Processor, list[Any]]:
    """A worker's processor trusting GATEWAY_USER, and the schema loads it runs."""
    loads: list[Any] = []
    real = processor.load_body  # type: ignore[attr-defined]  # the name the processor calls

    def counted(schema: Any, payload: Any) -> dict[str, Any]:
        loads.append(schema)
        return real(schema, payload)

    monkeypatch.setattr(processor, "load_body", counted)
    settings = Settings.from_env({"GATEWAY_BROKER_USER": GATEWAY_USER})
    return Processor(None, settings, Metrics()), loads  # type: ignore[arg-type]  # decoding reads no store


def test_a_message_the_broker_vouches_for_is_not_validated_again(decoder: tuple[Processor, list[Any]]) -> None:
    proc, loads = decoder
    validated = load_body(ALERT_SCHEMA, {**alert(unique()), "createTime": "2026-12-06T12:00:00.123Z"})
    item = proc.decode(incoming(validated_body(validated), GATEWAY_USER))
    assert item.settle is None and item.payload is not None and loads == []
    assert {k: item.payload[k] for k in validated} == {**validated, "origin": item.payload["origin"],
                                                        "timeout": item.payload["timeout"]}
    beat = load_body(HEARTBEAT_SCHEMA, {"origin": unique("hb"), "timeout": 30})
    item = proc.decode(incoming(validated_body(beat), GATEWAY_USER, "heartbeat"))
    assert item.settle is None and loads == []


@pytest.mark.parametrize("problem", sorted(HOSTILE))
@pytest.mark.parametrize("user_id", [None, "", "guest", "alertbus-gateway2", GATEWAY_USER.upper()])
def test_a_direct_publishers_hostile_message_is_still_refused(
        decoder: tuple[Processor, list[Any]], problem: str, user_id: str | None) -> None:
    proc, loads = decoder
    for body in (hostile_in_validated_shape(HOSTILE[problem]), raw_hostile(HOSTILE[problem])):
        item = proc.decode(incoming(body, user_id))
        assert item.settle is Settle.DEAD and item.reply is not None and item.reply[0] == 400, (problem, user_id)
    assert len(loads) == 2  # validated in full, both times


@pytest.mark.parametrize("problem", sorted(HOSTILE))
def test_a_vouched_message_not_in_the_validated_shape_is_validated_in_full(
        decoder: tuple[Processor, list[Any]], problem: str) -> None:
    proc, loads = decoder
    item = proc.decode(incoming(raw_hostile(HOSTILE[problem]), GATEWAY_USER))
    assert item.settle is Settle.DEAD and loads == [ALERT_SCHEMA]


def test_nothing_is_vouched_for_without_a_gateway_user() -> None:
    proc = Processor(None, Settings.from_env({}), Metrics())  # type: ignore[arg-type]
    validated = load_body(ALERT_SCHEMA, alert(unique()))
    for user_id in (None, "", "guest"):
        assert not proc.vouched.vouches("alert", user_id)
    assert proc.decode(incoming(validated_body(validated), "guest")).settle is None  # validated, and valid


# -- through the real broker: the gateway publishes vouched messages, a direct publisher's are validated ---------

@pytest_asyncio.fixture(scope="module")
async def vouching(store_url: str) -> AsyncIterator[Stack]:
    """The services publish as the test broker's user (guest), named as the gateways' user."""
    async with start_stack(store_url, GATEWAY_BROKER_USER="guest") as stack:
        yield stack


async def test_the_gateways_alerts_are_validated_once(vouching: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[Any] = []
    real = processor.load_body  # type: ignore[attr-defined]

    def counted(schema: Any, payload: Any) -> dict[str, Any]:
        loads.append(schema)
        return real(schema, payload)

    monkeypatch.setattr(processor, "load_body", counted)
    body = {**alert(unique()), "createTime": "2026-12-06T12:00:00.123Z", "value": 7, "rawData": {"a": [1]}}
    status, answer = await vouching.post_alert(body)
    assert status == 201, answer
    assert answer["alert"]["createTime"] == "2026-12-06T12:00:00.123Z" and answer["alert"]["value"] == "7"
    assert answer["alert"]["rawData"] == {"a": [1]}
    status, answer = await vouching.request("POST", "/heartbeat", {"origin": unique("hb")})
    assert status == 201, answer
    assert loads == []  # the worker ran no schema: the gateway had


async def test_a_direct_publish_beside_vouched_services_is_still_validated(vouching: Stack) -> None:
    await dead_letters(vouching)
    bad = amqp_message(hostile_in_validated_shape(HOSTILE["date out of range"]))  # no user_id: not vouched
    channel = await vouching.connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(Names.from_settings(vouching.settings).ingest)
    await exchange.publish(bad, routing_key="hostile")
    await channel.close()

    async def dead() -> list[str | None] | None:
        return [m.message_id for m in await dead_letters(vouching)] or None

    assert await eventually(dead) == [bad.message_id]
