"""The hooks service's own metrics, registered in the registry the process shares (one hooks app per registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from shared.metrics import LATENCY_BUCKETS


class HooksMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.webhook_messages = Counter(
            "alertbus_webhook_messages_total",
            "Alerts and status changes received by webhook, by source and outcome",
            ["source", "outcome"], registry=registry,
        )
        self.notifications = Counter(
            "alertbus_pagerduty_notifications_total",
            "Outbound PagerDuty events, by outcome (sent, retried, dead, skipped, stale)",
            ["outcome"], registry=registry,
        )
        self.notify_seconds = Histogram(
            "alertbus_pagerduty_request_seconds", "Time PagerDuty's Events API took to answer",
            buckets=LATENCY_BUCKETS, registry=registry,
        )
