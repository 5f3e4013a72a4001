"""Requests whose answers README documents as differing (the table "Where alertbus answers differently from
Alerta 9.1"): sent here so that each documented difference is seen, and stays what the table says."""

from __future__ import annotations

from ..model import Sequence, Step, alert, get

DOCUMENTED = [Sequence("documented", (
    alert("create", "v1", "v-web01", "NodeDown", "major", group="ParityV"),
    get("GET", "/alert/{v1:8}", "read by an 8-character prefix"),
    Step("v3 POST for a status", "POST", "/alert/{v1}/status", {"status": "ack", "text": "by POST"}),
    Step("v3 POST for tags", "POST", "/alert/{v1}/tag", {"tags": ["v3"]}),
    Step("an unknown status", "PUT", "/alert/{v1}/status", {"status": "bogus"}),
    Step("v3 delete by _method", "POST", "/alert/{v1}", {"_method": "delete"}),
    get("GET", "/alert/{v1}", "read after the v3 delete"),
    alert("an unknown severity", None, "v-web02", "NodeDown", "bogus", group="ParityV"),
    get("GET", "/alerts?group=ParityV&page=0", "page zero"),
    get("GET", "/alerts?group=ParityV&page-size=2000", "page size over 1000"),
    get("GET", "/alerts?group=ParityV&status=bogus", "an unknown status filter"),
    get("GET", "/alerts?group=ParityV&group-by=bogus", "an unknown group-by"),
    get("GET", "/alerts/top10?group=ParityV", "v3 top 10"),
    get("GET", "/_", "liveness"),
    get("GET", "/no/such/path", "unknown path without a key", auth=False),
))]
