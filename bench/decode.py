"""``python -m bench.decode``: the ingest worker's CPU per alert for decoding and validating a message
(``Processor.decode``: JSON, schema, policy), measured with ``time.process_time`` over ``--count`` messages — a
deterministic figure on a loaded machine. Two rows: a direct publish (validated in full) and a message the broker
vouches came from the gateways (``user_id`` = ``GATEWAY_BROKER_USER``, body as the gateway validated it:
shared/vouching.py), which the worker does not validate again. Then the CPU of encoding the worker's reply to a new
alert, with the standard library and with the worker's encoder."""

from __future__ import annotations

import argparse
import json
import time
import uuid
from types import SimpleNamespace
from typing import Any

from services.ingest.processor import Processor
from services.ingest.settle import _encode
from shared.metrics import Metrics
from shared.render import alert_body
from shared.rules import create
from shared.schemas import ALERT_SCHEMA, load_body
from shared.settings import Settings
from shared.store import now_ms
from shared.vouching import validated_body

GATEWAY_USER = "alertbus-gateway"


def body(n: int) -> dict[str, Any]:
    """A typical alert (what the load benchmark sends): a few tags, attributes and a short text."""
    return {"resource": f"web{n:05d}", "event": "HttpError", "environment": "Production", "severity": "major",
            "service": ["web", "frontend"], "group": "Web", "value": "503", "text": "HTTP 503 from the backend",
            "tags": ["eu-west", "prod"], "attributes": {"region": "eu-west-1", "team": "sre"}, "origin": "bench",
            "timeout": 3600, "createTime": "2026-12-06T12:00:00.000Z"}


def messages(count: int, vouched: bool) -> list[Any]:
    out = []
    for n in range(count):
        alert = body(n)
        raw = validated_body(load_body(ALERT_SCHEMA, alert)) if vouched else json.dumps(alert).encode()
        out.append(SimpleNamespace(type="alert", body=raw, message_id=str(uuid.uuid4()), headers={},
                                   user_id=GATEWAY_USER if vouched else "guest", redelivered=False))
    return out


def measure(count: int) -> dict[str, float]:
    """Microseconds of CPU per alert decoded, per kind of sender."""
    settings = Settings.from_env({"GATEWAY_BROKER_USER": GATEWAY_USER})
    processor = Processor(None, settings, Metrics())  # type: ignore[arg-type]  # decoding touches no store
    out = {}
    for name, vouched in (("direct", False), ("vouched", True)):
        batch = messages(count, vouched)
        started = time.process_time()
        items = [processor.decode(message) for message in batch]
        out[name] = 1e6 * (time.process_time() - started) / count
        assert all(item.payload is not None for item in items), items[0].reply
    return out


def encode_cost(count: int) -> dict[str, float]:
    """Microseconds of CPU per reply encoded (the worker's answer to a new alert: the alert with its history), by
    the standard library and by the worker's encoder (orjson, services/ingest/settle.py)."""
    alert = {**load_body(ALERT_SCHEMA, body(1)), "id": str(uuid.uuid4()), "user": None, "origin": "bench"}
    doc = create({**alert, "createTime": now_ms()}, now_ms(), 100)
    reply = {"code": 201, "body": {"status": "ok", "id": doc["_id"], "alert": alert_body(doc)}}
    out = {}
    for name, encode in (("json", lambda r: json.dumps(r, separators=(",", ":")).encode()), ("worker", _encode)):
        started = time.process_time()
        for _ in range(count):
            encode(reply)
        out[name] = 1e6 * (time.process_time() - started) / count
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decode", description=__doc__)
    parser.add_argument("--count", type=int, default=10_000, help="alerts decoded per row (default 10,000)")
    args = parser.parse_args(argv)
    result = measure(args.count)
    for name, micros in result.items():
        print(f"{name:<8} {micros:8.1f} µs CPU per alert decoded ({args.count} alerts)")
    print(f"saved    {result['direct'] - result['vouched']:8.1f} µs per alert by validating once")
    encoded = encode_cost(args.count)
    print(f"reply encoding: {encoded['json']:.1f} µs per alert with json, {encoded['worker']:.1f} µs with the worker's "
          "encoder (orjson)")


if __name__ == "__main__":
    main()
