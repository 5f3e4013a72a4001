"""The read routes: served by the query service, known to the gateway, which forwards them and answers another
method on one of their paths with 405 (a path no route serves is 404, whatever the method)."""

from __future__ import annotations

READ_PATHS = (
    "/alert/{id}",
    "/alerts",
    "/alerts/count",
    "/alerts/top10",
    "/alerts/top10/count",
    "/alerts/top10/flapping",
    "/alerts/topn/count",
    "/alerts/topn/flapping",
    "/alerts/topn/standing",
    "/alerts/history",
    "/alerts/groups",
    "/alerts/tags",
    "/environments",
    "/services",
    "/heartbeat/{id}",
    "/heartbeats",
)
