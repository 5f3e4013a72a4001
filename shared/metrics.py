"""Prometheus metrics. One instance per registry; when services share a process they share the instance (and so
the registry): every metric of every service is declared here, so that two apps on one ``Metrics`` never
register a name twice. Labels stay low-cardinality: never an alert id, resource or origin. Besides alertbus' own,
the registry serves the standard process metrics (``process_cpu_seconds_total``, ``process_resident_memory_bytes``,
``process_open_fds``…, where the platform has them) and ``python_info``."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PREFIX = "alertbus_"


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.alerts_received = Counter(
            "alertbus_alerts_received_total", "Alerts processed by the ingest workers, by outcome",
            ["outcome"], registry=r,
        )
        self.commands_applied = Counter(
            "alertbus_commands_applied_total", "Commands applied by the ingest workers, by operation",
            ["op"], registry=r,
        )
        self.commands_skipped = Counter(
            "alertbus_commands_skipped_total",
            "Guarded commands (housekeeping) skipped because the alert changed since they were sent, by operation",
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
        self.backlog = Gauge(
            "alertbus_ingest_backlog", "Messages waiting in the ingest queues, as this publisher last read them "
            "(read only when MAX_BACKLOG bounds them)", registry=r, multiprocess_mode="livemax",
        )
        self.backlog_refused = Counter(
            "alertbus_backlog_refused_total", "Writes refused (503) because the ingest backlog reached MAX_BACKLOG, "
            "by message kind", ["kind"], registry=r,
        )
        self.ingest_shards = Gauge(
            "alertbus_ingest_shards", "Shard queues the ingest workers of this process consume", registry=r,
            multiprocess_mode="livesum",
        )
        self.batch_seconds = Histogram(
            "alertbus_ingest_batch_seconds", "Time to process one ingest batch", buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._io(r)
        self._operations(r)
        self._hooks(r)

    def _io(self, r: CollectorRegistry) -> None:
        """HTTP, broker and store latency, of every service."""
        self.http_requests = Counter(
            "alertbus_http_requests_total", "HTTP requests by service, route and status code",
            ["service", "route", "code"], registry=r,
        )
        self.http_seconds = Histogram(
            "alertbus_http_request_seconds", "HTTP request latency by service and route",
            ["service", "route"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.publish_seconds = Histogram(
            "alertbus_broker_publish_seconds",
            "Time from publishing a message to the ingest workers until RabbitMQ confirmed it (not the worker's reply)",
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.store_seconds = Histogram(
            "alertbus_store_operation_seconds", "Time of a store (MongoDB) operation, by operation",
            ["operation"], buckets=LATENCY_BUCKETS, registry=r,
        )

    def _operations(self, r: CollectorRegistry) -> None:
        """The server-side schedules: housekeeping and the heartbeat watch."""
        self.schedule_runs = Counter(
            "alertbus_schedule_runs_total", "Runs of a server-side schedule on this process, by outcome",
            ["schedule", "outcome"], registry=r,
        )
        self.schedule_seconds = Histogram(
            "alertbus_schedule_run_seconds", "Duration of a server-side schedule run", ["schedule"],
            buckets=LATENCY_BUCKETS + (30.0, 60.0), registry=r,
        )
        self.housekeeping_alerts = Counter(
            "alertbus_housekeeping_alerts_total", "Alerts expired or deleted by housekeeping, by action",
            ["action"], registry=r,
        )
        self.heartbeat_alerts = Counter(
            "alertbus_heartbeat_alerts_total", "Alerts sent by the heartbeat watch, by event",
            ["event"], registry=r,
        )

    def _hooks(self, r: CollectorRegistry) -> None:
        """The hooks service: inbound webhooks and the PagerDuty notifier."""
        self.webhook_messages = Counter(
            "alertbus_webhook_messages_total",
            "Alerts and status changes received by webhook, by source and outcome",
            ["source", "outcome"], registry=r,
        )
        self.notifications = Counter(
            "alertbus_pagerduty_notifications_total",
            "Outbound PagerDuty events, by outcome (sent, retried, dead, skipped, stale)",
            ["outcome"], registry=r,
        )
        self.notify_seconds = Histogram(
            "alertbus_pagerduty_request_seconds", "Time PagerDuty's Events API took to answer",
            buckets=LATENCY_BUCKETS, registry=r,
        )

    def served(self) -> CollectorRegistry:
        """What ``/metrics`` serves: this registry; under ``alertbus run`` (PROMETHEUS_MULTIPROC_DIR set by
        services/supervisor.py) alertbus' metrics of every process of the run, summed (a gauge per process, by
        ``pid``), and the process metrics of the serving process."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not directory:
            return self.registry
        registry = CollectorRegistry()
        MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        return registry

    def status_list(self) -> list[dict[str, Any]]:
        """The counters and latency timers in the shape of Alerta's ``/management/status`` ``metrics``, which
        ``alerta status`` prints (a timer with no observation is left out: the client divides by its count). Only
        alertbus' own metrics: the process metrics are Prometheus' business."""
        out: list[dict[str, Any]] = []
        for family in self.served().collect():
            if not family.name.startswith(PREFIX):
                continue
            group = family.name.removeprefix(PREFIX)
            if family.type == "counter":
                out += [
                    {"group": group, "name": _label_name(s.labels), "title": family.documentation,
                     "type": "counter", "count": int(s.value)}
                    for s in family.samples if s.name.endswith("_total")
                ]
            elif family.type == "histogram" and family.name.endswith("_seconds"):
                sums = {_label_name(s.labels): s.value for s in family.samples if s.name.endswith("_sum")}
                out += [
                    {"group": group, "name": name, "title": family.documentation, "type": "timer",
                     "count": int(s.value), "totalTime": int(sums.get(name, 0.0) * 1000)}
                    for s in family.samples if s.name.endswith("_count") and s.value
                    for name in [_label_name(s.labels)]
                ]
        return out


def _label_name(labels: dict[str, str]) -> str:
    return ".".join(value for key, value in sorted(labels.items()) if key != "le") or "total"
