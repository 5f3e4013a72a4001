"""Error answers: bad JSON, missing fields, unknown ids, unknown paths, wrong methods, missing or wrong keys."""

from __future__ import annotations

from ..model import Sequence, Step, get

UNKNOWN = "00000000-0000-4000-8000-000000000000"

ERRORS = [Sequence("errors", (
    Step("bad JSON", "POST", "/alert", raw=b'{"resource": "e-web01",'),
    Step("not JSON at all", "POST", "/alert", raw=b"resource=e-web01", content_type="text/plain"),
    Step("missing resource", "POST", "/alert", {"event": "NodeDown", "environment": "Production",
                                                "service": ["Web"]}),
    Step("missing event", "POST", "/alert", {"resource": "e-web01", "environment": "Production",
                                             "service": ["Web"]}),
    Step("missing environment", "POST", "/alert", {"resource": "e-web01", "event": "NodeDown", "service": ["Web"]}),
    Step("unknown environment", "POST", "/alert", {"resource": "e-web01", "event": "NodeDown",
                                                   "environment": "Staging", "service": ["Web"]}),
    Step("missing service", "POST", "/alert", {"resource": "e-web01", "event": "NodeDown",
                                               "environment": "Production"}),
    Step("tags not a list", "POST", "/alert", {"resource": "e-web01", "event": "NodeDown",
                                               "environment": "Production", "service": ["Web"], "tags": "x"}),
    get("GET", f"/alert/{UNKNOWN}", "unknown alert id"),
    Step("status of an unknown alert", "PUT", f"/alert/{UNKNOWN}/status", {"status": "ack"}),
    Step("tag an unknown alert", "PUT", f"/alert/{UNKNOWN}/tag", {"tags": ["x"]}),
    Step("delete an unknown alert", "DELETE", f"/alert/{UNKNOWN}"),
    get("GET", f"/heartbeat/{UNKNOWN}", "unknown heartbeat id"),
    get("GET", f"/blackout/{UNKNOWN}", "unknown blackout id"),
    get("GET", "/no/such/path", "unknown path"),
    Step("unknown path, POST", "POST", "/no-such-thing", {"x": 1}),
    Step("wrong method on /alerts", "DELETE", "/alerts"),
    Step("wrong method on /alert", "GET", "/alert"),
    Step("wrong method on /heartbeats", "POST", "/heartbeats", {}),
    get("GET", "/alerts", "no key", auth=False),
    get("GET", "/alerts?api-key=not-a-key", "a wrong key", auth=False),
    Step("a wrong key, POST", "POST", "/alert?api-key=not-a-key", {"resource": "e", "event": "e"}, auth=False),
))]
