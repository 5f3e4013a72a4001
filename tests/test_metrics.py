"""``/metrics``: counters move by exactly what was done, every service of a process serves one registry, and the
names follow Prometheus' conventions. A stack of its own, so that no other test moves its counters."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest_asyncio
from prometheus_client import Counter, Histogram

from services.embedded import free_port
from services.ingest.ops import create_ops_app
from shared.broker import Names, RpcClient
from shared.metrics import Metrics

from .support import Stack, alert, eventually, isolated_settings, other_database, serve, unique
from .support.metrics import delta, scrape
from .support.stack import start_stack as small_stack

# Every label the metrics use: each has a small, fixed set of values (never an id, a resource or an origin).
LABELS = {"outcome", "op", "reason", "service", "route", "code", "operation", "schedule", "action", "event",
          "source", "kind"}


@pytest_asyncio.fixture(scope="module")
async def own(store_url: str) -> AsyncIterator[Stack]:
    async with small_stack(other_database(store_url), with_hooks=True) as stack:
        yield stack


async def test_counters_move_by_exactly_the_requests_made(own: Stack) -> None:
    url = f"{own.url}/metrics"
    before = await scrape(own.session, url)
    body = alert(unique())
    assert (await own.post_alert(body))[0] == 201  # created
    assert (await own.post_alert(body))[0] == 201  # duplicate
    status, reply = await own.post_alert({**body, "severity": "critical"})  # correlated
    assert status == 201
    assert (await own.post_alert({**body, "environment": "Nowhere"}))[0] == 403  # rejected by policy
    assert (await own.request("PUT", f"/alert/{reply['id']}/tag", {"tags": ["x"]}))[0] == 200
    await publish_raw(own, b"{not json")
    await eventually(lambda: dead_lettered(own))
    after = await scrape(own.session, url)

    received = "alertbus_alerts_received_total"
    assert {o: delta(before, after, received, outcome=o) for o in ("created", "duplicate", "correlated", "rejected")} \
        == {"created": 1, "duplicate": 1, "correlated": 1, "rejected": 1}
    assert delta(before, after, "alertbus_commands_applied_total", op="tag") == 1
    assert delta(before, after, "alertbus_messages_dead_lettered_total", reason="invalid") == 1
    http = "alertbus_http_requests_total"
    assert delta(before, after, http, service="gateway", route="/alert", code="201") == 3
    assert delta(before, after, http, service="gateway", route="/alert", code="403") == 1
    assert delta(before, after, http, service="gateway", route="/alert/{id}/tag", code="200") == 1
    assert delta(before, after, "alertbus_http_request_seconds_count", service="gateway", route="/alert") == 4
    # Every message published to the workers: three alerts and the tag (the refused alert is not published).
    assert delta(before, after, "alertbus_broker_publish_seconds_count") == 4
    # Batching decides how many batches carried the 5 messages (the refused alert is not published); each was
    # measured.
    batches = delta(before, after, "alertbus_ingest_batch_seconds_count")
    assert 1 <= batches <= 5 and delta(before, after, "alertbus_ingest_batch_size_count") == batches
    assert delta(before, after, "alertbus_ingest_batch_size_sum") == 5
    assert delta(before, after, "alertbus_store_operation_seconds_count", operation="write_batch") >= 1
    assert delta(before, after, "alertbus_store_operation_seconds_count", operation="get_alert") == 1  # the tag


async def publish_raw(stack: Stack, body: bytes) -> None:
    channel = await stack.connection.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(Names.from_settings(stack.settings).ingest)
    await exchange.publish(aio_pika.Message(body, message_id=str(uuid.uuid4())), routing_key="metrics-test")
    await channel.close()


async def dead_lettered(stack: Stack) -> bool:
    return (stack.metrics.registry.get_sample_value(
        "alertbus_messages_dead_lettered_total", {"reason": "invalid"}) or 0) >= 1


async def test_every_service_of_a_process_serves_one_registry(own: Stack) -> None:
    """As in ``alertbus run``: gateway, query and hooks share one Metrics; the ingest worker's own HTTP app
    (``alertbus ingest``) serves it too."""
    port = free_port()
    runner = await serve(create_ops_app(own.workers[0]), port)
    try:
        assert (await own.post_alert(alert(unique())))[0] == 201
        urls = [f"{own.url}/metrics", f"{own.url}/api/metrics", f"{own.settings.gateway.query_url}/metrics",
                f"{own.settings.gateway.hooks_url}/metrics", f"http://127.0.0.1:{port}/metrics"]
        key = ("alertbus_alerts_received_total", (("outcome", "created"),))
        scraped = [await scrape(own.session, url) for url in urls]
        values = [samples[key] for samples in scraped]
        assert values[0] >= 1 and len(set(values)) == 1, values
        for url, samples in zip(urls, scraped, strict=True):  # and the process metrics of the process
            assert {("process_cpu_seconds_total", ()), ("process_resident_memory_bytes", ()),
                    ("process_open_fds", ())} <= set(samples), url
        async with own.session.get(f"http://127.0.0.1:{port}/management/gtg") as response:
            assert response.status == 200 and (await response.json())["service"] == "ingest"
    finally:
        await runner.cleanup()


async def test_metrics_need_no_key_and_status_lists_them_for_the_alerta_client(own: Stack) -> None:
    assert (await own.request("GET", "/metrics", auth=False))[0] == 200
    status, body = await own.request("GET", "/management/status", auth=False)
    assert status == 200 and body["application"] == "alertbus" and body["service"] == "gateway"
    by_name = {(m["group"], m["name"]): m for m in body["metrics"]}
    assert by_name[("alerts_received", "created")]["type"] == "counter"
    timer = by_name[("http_request_seconds", "/alert.gateway")]
    assert timer["type"] == "timer" and timer["count"] >= 1 and timer["totalTime"] >= 0
    assert all(m["count"] > 0 for m in body["metrics"] if m["type"] == "timer")  # alerta divides by it


def test_metric_names_follow_prometheus_conventions() -> None:
    metrics = Metrics()
    collectors = [value for value in vars(metrics).values() if isinstance(value, Counter | Histogram)]
    assert len(collectors) >= 20
    for collector in collectors:  # declared label names (a labelled metric has no sample until it is used)
        assert set(collector._labelnames) <= LABELS, (collector._name, collector._labelnames)
    families = list(metrics.registry.collect())
    standard = {family.name for family in families if not family.name.startswith("alertbus_")}
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds", "python_info"} <= standard
    assert all(name.startswith(("process_", "python_")) for name in standard), standard
    for family in families:
        if family.name in standard:
            continue
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        elif family.type == "histogram":
            assert family.name.endswith(("_seconds", "_batch_size")), family.name
    expected = {"alertbus_store_operation_seconds", "alertbus_webhook_messages", "alertbus_housekeeping_alerts",
                "alertbus_schedule_runs", "alertbus_heartbeat_alerts", "alertbus_commands_skipped"}
    assert expected <= {family.name for family in metrics.registry.collect()}


def test_status_list_is_what_alerta_status_prints() -> None:
    metrics = Metrics()
    metrics.alerts_received.labels("created").inc(3)
    metrics.store_seconds.labels("ping").observe(0.25)
    listed = {(m["group"], m["name"]): m for m in metrics.status_list()}
    assert listed[("alerts_received", "created")] == {
        "group": "alerts_received", "name": "created", "title": "Alerts processed by the ingest workers, by outcome",
        "type": "counter", "count": 3}
    assert listed[("store_operation_seconds", "ping")]["totalTime"] == 250
    assert ("store_operation_seconds", "load_groups") not in listed  # never observed: no division by zero
    assert {group for group, _ in listed} <= {f.name.removeprefix("alertbus_") for f in metrics.registry.collect()
                                              if f.name.startswith("alertbus_")}  # not the process metrics
    json.dumps(metrics.status_list())


async def test_publish_time_ends_at_the_confirm_not_at_the_reply(store_url: str) -> None:
    """``alertbus_broker_publish_seconds`` times a publish until RabbitMQ confirmed it, never the wait for the
    worker's reply: with no worker to answer, a caller waits ``RPC_TIMEOUT`` in vain, its publish took far less."""
    metrics = Metrics()
    body = alert(unique())
    async with isolated_settings(store_url, RPC_TIMEOUT="2") as settings:  # a namespace no worker consumes
        connection = await aio_pika.connect_robust(settings.amqp_url)
        async with connection:
            rpc = RpcClient(connection, settings, metrics)
            await rpc.start()
            started = time.perf_counter()
            waited = await rpc.send_alert(body, body, user="metrics-test")
            took = time.perf_counter() - started
            assert (await rpc.send_alert(body, body, user="metrics-test", wait=False)).queued
    assert waited.queued and took >= 2.0
    sample = metrics.registry.get_sample_value
    assert sample("alertbus_broker_publish_seconds_count") == 2
    assert (sample("alertbus_broker_publish_seconds_sum") or 0) < took / 2
