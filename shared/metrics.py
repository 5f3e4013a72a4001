"""Prometheus metrics. One instance per registry; when services share a process they share the registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.alerts_received = Counter(
            "alertbus_alerts_received_total", "Alerts processed by the ingest workers, by outcome",
            ["outcome"], registry=r,
        )
        self.commands_applied = Counter(
            "alertbus_commands_applied_total", "Commands applied by the ingest workers, by operation",
            ["op"], registry=r,
        )
        self.heartbeats_received = Counter(
            "alertbus_heartbeats_received_total", "Heartbeats stored", registry=r,
        )
        self.dead_lettered = Counter(
            "alertbus_messages_dead_lettered_total", "Messages sent to the dead-letter queue, by reason",
            ["reason"], registry=r,
        )
        self.redelivered_skipped = Counter(
            "alertbus_messages_redelivered_skipped_total",
            "Redelivered messages recognised as already applied", registry=r,
        )
        self.write_conflicts = Counter(
            "alertbus_ingest_write_conflicts_total", "Alert writes that lost a race and were re-applied",
            registry=r,
        )
        self.batch_size = Histogram(
            "alertbus_ingest_batch_size", "Messages per ingest batch",
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000), registry=r,
        )
        self.batch_seconds = Histogram(
            "alertbus_ingest_batch_seconds", "Time to process one ingest batch", buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "alertbus_http_requests_total", "HTTP requests by service, route and status code",
            ["service", "route", "code"], registry=r,
        )
        self.http_seconds = Histogram(
            "alertbus_http_request_seconds", "HTTP request latency by service and route",
            ["service", "route"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.publish_seconds = Histogram(
            "alertbus_broker_publish_seconds", "Time until RabbitMQ confirmed a published message",
            buckets=LATENCY_BUCKETS, registry=r,
        )
