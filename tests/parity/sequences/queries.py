"""Reads: filters, ``q`` in both syntaxes, sort, paging (and a page out of range), counts, top 10,
environments, services, tags and groups, the history of many alerts. Every read filters on the group ``ParityQ``
that only this sequence's alerts have."""

from __future__ import annotations

from urllib.parse import urlencode

from ..model import Sequence, Step, alert, get

GROUP = ("group", "ParityQ")


def read(name: str, path: str, *params: tuple[str, str]) -> Step:
    """GET ``path`` with the group filter and ``params``, encoded as a browser would."""
    return get("GET", f"{path}?{urlencode([GROUP, *params])}", name)


SEEDS = (
    alert("seed q-web01", "q1", "q-web01", "HttpError", "major", group="ParityQ", tags=["linux", "london"],
          service=["Web"], attributes={"region": "EU"}, value="500"),
    alert("seed q-web02", "q2", "q-web02", "HttpError", "minor", group="ParityQ", tags=["linux"],
          service=["Web", "Api"], attributes={"region": "US"}),
    alert("seed q-db01", "q3", "q-db01", "DiskFull", "critical", group="ParityQ", tags=["windows"],
          service=["Db"], text="disk full on q-db01"),
    alert("seed q-dev01", "q4", "q-dev01", "HttpError", "warning", group="ParityQ", environment="Development",
          service=["Web"]),
    alert("seed q-db02", "q5", "q-db02", "DiskFull", "informational", group="ParityQ", service=["Db"]),
    alert("seed q-web01 duplicate", None, "q-web01", "HttpError", "major", group="ParityQ", value="502"),
    alert("seed q-db02 severity change", None, "q-db02", "DiskFull", "major", group="ParityQ", service=["Db"]),
)

FILTERS = (
    read("all by resource", "/alerts", ("sort-by", "resource")),
    read("by severity", "/alerts", ("severity", "major"), ("sort-by", "resource")),
    read("two severities", "/alerts", ("severity", "major"), ("severity", "minor"), ("sort-by", "resource")),
    read("not a severity", "/alerts", ("severity!", "major"), ("sort-by", "resource")),
    read("environment", "/alerts", ("environment", "Development")),
    read("service", "/alerts", ("service", "Api")),
    read("tag", "/alerts", ("tag", "london")),
    read("resource substring", "/alerts", ("resource", "~db0"), ("sort-by", "resource")),
    read("resource regex", "/alerts", ("resource", "~^q-db"), ("sort-by", "resource")),
    read("attribute", "/alerts", ("attributes.region", "EU")),
    read("status", "/alerts", ("status", "open"), ("sort-by", "resource")),
    read("id", "/alerts", ("id", "{q3}")),
    read("no match", "/alerts", ("resource", "nothing-like-it")),
    read("show history", "/alerts", ("resource", "q-db02"), ("show-history", "true")),
    read("show raw data", "/alerts", ("resource", "q-web01"), ("show-raw-data", "true")),
)

QUERY_STRINGS = (
    read("lucene field", "/alerts", ("q", "resource:q-web01")),
    read("lucene and", "/alerts", ("q", "event:HttpError AND severity:major")),
    read("lucene or", "/alerts", ("q", "resource:q-db01 OR resource:q-dev01"), ("sort-by", "resource")),
    read("lucene not", "/alerts", ("q", "event:HttpError AND NOT severity:major"), ("sort-by", "resource")),
    read("lucene wildcard", "/alerts", ("q", "resource:q-db*"), ("sort-by", "resource")),
    read("lucene phrase", "/alerts", ("q", '"disk full"')),
    read("lucene attribute", "/alerts", ("q", "attributes.region:US")),
    read("lucene range", "/alerts", ("q", "resource:[q-db01 TO q-db02]"), ("sort-by", "resource")),
    read("json equality", "/alerts", ("q", '{"resource": "q-web02"}')),
    read("json in", "/alerts", ("q", '{"severity": {"$in": ["critical", "minor"]}}'), ("sort-by", "resource")),
    read("json or", "/alerts", ("q", '{"$or": [{"resource": "q-db01"}, {"event": "DiskFull"}]}'),
         ("sort-by", "resource")),
)

SORTS_AND_PAGES = (
    read("sort by severity", "/alerts", ("sort-by", "severity")),
    read("sort descending", "/alerts", ("sort-by", "-resource")),
    read("sort reversed", "/alerts", ("sort-by", "resource"), ("reverse", "1")),
    read("sort by two keys", "/alerts", ("sort-by", "event"), ("sort-by", "resource")),
    read("page 1 of 3", "/alerts", ("sort-by", "resource"), ("page-size", "2")),
    read("page 2 of 3", "/alerts", ("sort-by", "resource"), ("page-size", "2"), ("page", "2")),
    read("page 3 of 3", "/alerts", ("sort-by", "resource"), ("page-size", "2"), ("page", "3")),
    read("page out of range", "/alerts", ("sort-by", "resource"), ("page-size", "2"), ("page", "9")),
)

AGGREGATES = (
    read("count", "/alerts/count"),
    read("count by severity", "/alerts/count", ("severity", "major")),
    read("top 10 count", "/alerts/top10/count"),
    read("top n by resource", "/alerts/topn/count", ("group-by", "resource")),
    read("top 10 flapping", "/alerts/top10/flapping"),
    read("top n standing", "/alerts/topn/standing"),
    read("environments", "/environments"),
    read("services", "/services"),
    read("tags", "/alerts/tags"),
    read("groups", "/alerts/groups"),
    read("history", "/alerts/history", ("resource", "q-db02")),
)

QUERIES = [
    Sequence("queries: seed", SEEDS),
    Sequence("queries: filters", FILTERS),
    Sequence("queries: q", QUERY_STRINGS),
    Sequence("queries: sort and paging", SORTS_AND_PAGES),
    Sequence("queries: counts and aggregates", AGGREGATES),
]
