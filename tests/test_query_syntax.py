"""``q`` in Alerta's query-string syntax through the read API of the real stack (gateway → query service →
SecantusDB). The alerts and the expected answers are those of Alerta 9.1 (PostgreSQL backend) to the same
queries, where Alerta answers; ``DIFFERENT`` holds alertbus's deliberate differences. With
``ALERTA_REFERENCE_URL`` set (a running ``alertad``, see the README), the last test sends the same alerts and
queries to that Alerta and compares the answers."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio

from .support import Stack
from .support.documents import resources, seed, stored_alert

ALERTS: list[dict[str, Any]] = [
    dict(resource="web01", event="HttpError", environment="Production", severity="major", service=["Web", "Api"],
         tags=["london", "dc1"], text="Web server is DOWN now", value="500", attributes={"region": "EU", "rack": "r1"},
         timeout=100),
    dict(resource="web02", event="HttpOK", environment="Production", severity="minor", service=["Web"],
         tags=["paris"], text="web check ok", value="200", attributes={"region": "US"}, timeout=200),
    dict(resource="db01", event="DiskFull", environment="Production", severity="critical", service=["Db"],
         tags=["London"], text="disk full on db01", value="99%", timeout=300),
    dict(resource="DB02", event="disk_full", environment="Development", severity="warning", service=["Db"],
         tags=[], text="Disk-Full: db_02 near limit", value="95%", attributes={"region": "eu-west"}, timeout=400),
    dict(resource="web0011", event="Http Error", environment="Development", severity="major", service=["Web"],
         tags=["dc2"], text="", value="x", timeout=500),
]
EVERY = ["DB02", "db01", "web0011", "web01", "web02"]
WEBS = ["web0011", "web01", "web02"]

# (q, the resources Alerta 9.1 answers): the same from alertbus
AGREED: list[tuple[str, list[str]]] = [
    ("resource:web01", ["web01"]), ("resource:WEB", WEBS), ("web", ["web01", "web02"]), ("DOWN", ["web01"]),
    ('"web server"', ["web01"]), ('"server is"', ["web01"]), ("full", ["DB02", "db01"]), ('"full"', ["DB02", "db01"]),
    ("resource:web*", WEBS), ("resource:web?1", ["web01"]), ("resource:w?b01", ["web01"]), ("resource:eb*", []),
    ("resource:we*1", ["web0011", "web01"]), ("resource:web*01", ["web01"]),
    ("resource:/^web/", WEBS), ("resource:/WEB0[12]/", ["web01", "web02"]), ("text:/down/", ["web01"]),
    ("resource:web01 AND NOT resource:web02", ["web01"]), ("resource:web01 OR NOT resource:web02", ["web01"]),
    ("NOT resource:web01", ["DB02", "db01", "web0011", "web02"]), ("NOT NOT resource:web01", ["web01"]),
    ("NOT (resource:web01 OR resource:db01)", ["DB02", "web0011", "web02"]),
    ("(resource:web01 OR resource:db01) AND NOT severity:major", ["db01"]),
    ("resource:web01 OR resource:db01 AND severity:major", ["web01"]),
    ("tags:london", ["web01"]), ("tags:London", ["db01"]), ("tags:lon", []), ('tags:"london"', ["web01"]),
    ("service:Web", WEBS), ("service:web", []),
    ("attributes.region:EU", ["DB02", "web01"]), ("_.region:eu", ["DB02", "web01"]),
    ('attributes.region:"eu"', ["DB02", "web01"]), ("attributes.region:(EU OR US)", ["DB02", "web01", "web02"]),
    ("_exists_:region", ["DB02", "web01", "web02"]), ("_exists_:rack", ["web01"]),
    ("NOT _exists_:region", ["db01", "web0011"]), ("NOT attributes.region:EU", ["web02"]),
    ("attributes.missing:x", []), ("NOT attributes.missing:x", []),
    ("resource:(web01 OR db01)", ["db01", "web01"]), ("resource:(web01 db01)", ["db01", "web01"]),
    ("resource:(web01 OR db01) AND tags:dc1", ["web01"]),
    ("timeout:[100 TO 300]", ["db01", "web01", "web02"]), ("timeout:{100 TO 300}", ["web02"]),
    ("timeout:[200 TO *]", ["DB02", "db01", "web0011", "web02"]), ("timeout:>200", ["DB02", "db01", "web0011"]),
    ("timeout:>=200", ["DB02", "db01", "web0011", "web02"]), ("timeout:<=200", ["web01", "web02"]),
    ("resource:[a TO e]", ["db01"]), ("resource:[A TO z]", EVERY),
    ('event:"Http Error"', ["web0011"]), ('text:"disk full"', ["db01"]), ('text:"disk-full"', ["DB02"]),
    ('text:"db_02"', ["DB02"]), ('resource:"web0"', []), ('resource:"web01"', ["web01"]), ("value:99%", ["db01"]),
    ("*", ["DB02", "db01", "web01", "web02"]), ("resource:*", EVERY),
    ("severity:major severity:minor", WEBS), ("environment:production", ["db01", "web01", "web02"]),
    ("NOT text:web", ["DB02", "db01", "web0011"]), ("create_time:[2020-01-01 TO *]", EVERY),
    ("type:exceptionAlert", EVERY),
]
# (q, alertbus's answer): where Alerta answers otherwise, fails (a 500: list fields with anything but a word, a
# regex on an attribute, numbers, booleans, the API's date names, + and -) or ignores part of the query
DIFFERENT: list[tuple[str, list[str]]] = [
    ("resource:web01 OR resource:web02 OR resource:db01", ["db01", "web01", "web02"]),  # Alerta drops the third
    ("resource:Web*", WEBS),  # Alerta: every alert (an upper-case wildcard ends its parse)
    ('text:"d.sk"', []),  # a phrase is literal text (Alerta: a regular expression)
    ("resource:web_01", []),  # _ and % are literal (Alerta: LIKE wildcards)
    ("tags:(london OR paris)", ["web01", "web02"]), ("tags:/lon/", ["db01", "web01"]),
    ("attributes.region:/^eu/", ["DB02", "web01"]),
    ("duplicateCount:0", EVERY), ("repeat:false", EVERY), ("timeout:100", ["web01"]),
    ("createTime:[2020-01-01 TO *]", EVERY),
    ("-resource:web01", ["DB02", "db01", "web0011", "web02"]), ("+resource:web01 resource:db01", ["web01"]),
]


@pytest_asyncio.fixture(scope="module")
async def group(stack: Stack) -> str:
    """The alerts above, in a group of their own (the group filter keeps other tests' alerts out)."""
    name = f"qs-{uuid.uuid4().hex[:10]}"
    await seed(stack.store, [stored_alert(a["environment"], a["resource"], a["event"], a["severity"], group=name,
                                          **{k: v for k, v in a.items() if k not in ("environment", "resource",
                                                                                    "event", "severity")})
                             for a in ALERTS])
    return name


async def answer(stack: Stack, group: str, q: str, path: str = "/alerts") -> tuple[int, Any]:
    return await stack.request("GET", f"{path}?{urlencode([('group', group), ('q', q), ('page-size', '100')])}")


@pytest.mark.parametrize(("q", "expected"), AGREED + DIFFERENT, ids=[q for q, _ in AGREED + DIFFERENT])
async def test_query_string_finds_what_alerta_finds(stack: Stack, group: str, q: str, expected: list[str]) -> None:
    status, body = await answer(stack, group, q)
    assert status == 200, body
    assert sorted(resources(body)) == expected


async def test_q_df_names_the_field_of_bare_terms(stack: Stack, group: str) -> None:
    params = [("group", group), ("q", "web"), ("q.df", "resource")]
    status, body = await stack.request("GET", f"/alerts?{urlencode(params)}")
    assert status == 200 and sorted(resources(body)) == WEBS, body


@pytest.mark.parametrize("path", ["/alerts/count", "/alerts/top10/count", "/alerts/history", "/environments",
                                  "/services"])
async def test_every_aggregate_takes_the_query_string(stack: Stack, group: str, path: str) -> None:
    status, body = await answer(stack, group, "tags:london OR tags:London", path)
    assert status == 200, body
    if path == "/alerts/count":
        assert body["total"] == 2 and body["severityCounts"] == {"major": 1, "critical": 1}
    if path == "/services":
        assert sorted(s["service"] for s in body["services"]) == ["Api", "Db", "Web"]


HOSTILE = [
    "colour:red", "resource:web AND", 'resource:"open', "resource:web~1", "resource:/(a+)+$/", "resource:/(x+x+)+y/",
    "resource:/" + "a?" * 30 + "a" * 30 + "/", "(" * 40 + "a" + ")" * 40, "(" * 1500 + "a" + ")" * 1500,
    "NOT " * 900 + "a", " OR ".join(["a"] * 300), "a" * 4097, "timeout:[1 TO many]", "createTime:today",
    "attributes.$where:1", "_exists_:a.$b", "tags:a && tags:b", "a~.",
]


@pytest.mark.parametrize("q", HOSTILE, ids=[f"{n}-{q[:24]}" for n, q in enumerate(HOSTILE)])
async def test_hostile_query_strings_are_400_never_500(stack: Stack, group: str, q: str) -> None:
    status, body = await answer(stack, group, q)
    assert status == 400, body
    assert body["status"] == "error" and list(body["errors"]) == ["q"] and len(body["message"]) < 600, body


async def test_undecodable_bytes_in_a_query_string_are_text(stack: Stack, group: str) -> None:
    """Bytes that are not UTF-8 reach the parser as U+FFFD (see test_query_errors): a term like any other."""
    status, body = await stack.request("GET", f"/alerts?group={group}&q=resource:%ED%A0%80%FF")
    assert status == 200 and body["total"] == 0, body


def reference(url: str, path: str, body: Any = None, method: str = "GET") -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"},
                                     method="POST" if data else method)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


@pytest.mark.skipif(not os.environ.get("ALERTA_REFERENCE_URL"), reason="set ALERTA_REFERENCE_URL to an alertad")
async def test_answers_match_a_running_alerta(stack: Stack, group: str) -> None:
    url = os.environ["ALERTA_REFERENCE_URL"].rstrip("/")
    theirs = f"qs-{uuid.uuid4().hex[:10]}"
    for item in ALERTS:  # an earlier run's alert would take these as duplicates, keeping its own group
        found = await asyncio.to_thread(reference, url, f"/alerts?{urlencode([('resource', item['resource'])])}")
        for old in found["alerts"]:
            await asyncio.to_thread(reference, url, f"/alert/{old['id']}", method="DELETE")
    for item in ALERTS:
        await asyncio.to_thread(reference, url, "/alert", {**item, "group": theirs})
    for q, expected in AGREED:
        body = await asyncio.to_thread(reference, url, f"/alerts?{urlencode([('group', theirs), ('q', q)])}")
        assert sorted(resources(body)) == expected, q
