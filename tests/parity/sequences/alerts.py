"""Reception: create, duplicate, severity change, correlation through ``correlate``, close and re-open, the
fields a sender may set, reads by id."""

from __future__ import annotations

from ..model import Sequence, alert, get

DEDUPLICATION = Sequence("alerts: de-duplication and severity change", (
    alert("create", "a1", "p-web01", "NodeDown", "major", tags=["linux", "london"], value="98%",
          attributes={"region": "EU"}, correlate=["NodeDown", "NodeUp"], group="Parity", type="exceptionAlert"),
    get("GET", "/alert/{a1}", "read the new alert"),
    alert("duplicate", "d1", "p-web01", "NodeDown", "major", tags=["linux", "paris"], value="99%"),
    alert("duplicate again", None, "p-web01", "NodeDown", "major", text="still down"),
    get("GET", "/alert/{a1}", "read the duplicated alert"),
    alert("severity change", "c1", "p-web01", "NodeDown", "critical", value="100%"),
    alert("less severe", None, "p-web01", "NodeDown", "minor"),
    alert("correlated event", None, "p-web01", "NodeUp", "minor"),
    alert("normal closes", None, "p-web01", "NodeUp", "normal"),
    get("GET", "/alert/{a1}", "read the closed alert"),
    alert("more severe re-opens", None, "p-web01", "NodeDown", "major"),
    get("GET", "/alert/{d1}", "read by the last receive id of a duplicate"),
))

FIELDS = Sequence("alerts: the fields a sender sets", (
    alert("every field", "f1", "p-db01", "DiskFull", "warning", service=["Db", "Storage"], group="Disk",
          value="91", text="disk /var is full", tags=["disk"], attributes={"owner": "ops", "count": 3},
          origin="parity/collector", type="diskAlert", timeout=600, rawData="raw text",
          createTime="2026-01-02T03:04:05.678Z"),
    alert("a number as value", "f2", "p-db02", "DiskFull", "minor", value=4),
    alert("no text", "f3", "p-db03", "DiskFull", "informational", text=None),
    alert("cleared severity", "f4", "p-db04", "DiskFull", "cleared"),
    alert("ok severity", "f5", "p-db05", "DiskFull", "ok"),
    alert("indeterminate", "f6", "p-db06", "DiskFull", "indeterminate"),
    alert("development environment", "f7", "p-db07", "DiskFull", "major", environment="Development"),
    alert("timeout zero", "f8", "p-db08", "DiskFull", "major", timeout=0),
    get("GET", "/alert/{f1}", "read every field"),
    get("GET", "/alert/{f7}", "read the development alert"),
))

ALERTS = [DEDUPLICATION, FIELDS]
