"""Regular expressions from clients cannot stall the store or the query service: patterns RE2 cannot express or
that backtrack exponentially are refused (400, naming the parameter) before they reach the store, the counters
evaluate patterns with RE2, and the store stops a read at ``STORE_MAX_TIME_MS`` (503). The rules are pure and
tested as such; the answers are tested against the real stack with thousands of alerts that would make each
refused pattern catastrophic on a backtracking engine."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
import re2

from services.query.filters import parse_alert_query, parse_heartbeat_query
from services.query.reads import AlertQueries
from shared.regexes import literal, safe_regex
from shared.schemas import BadInput
from shared.store.core import QueryTimeout
from shared.store.counter_keys import SEVERITY_FIELDS, key_filter

from .support import Stack, start_stack
from .support.documents import environment, stored_alert
from .support.seeding import insert_alerts

BAIT = "a" * 26 + "!"  # (a|aa)+$ takes about a second per value on a backtracking engine, doubling per "a"
SEEDED = 2000
# The patterns of the security review: each slipped past the earlier check (a regex over the pattern's text).
REVIEWED = ["(a|aa)+$", "((a+))+", "(?:(a+))+"]
EXPONENTIAL = [*REVIEWED, "(a+)+$", "(a*)*b", "(\\w+\\s?)*$", "(|a)+", "(a|a){20}", "(?P<x>a+)*$"]
NOT_RE2 = ["(a)\\1", "a(?=b)", "a(?!b)", "(?<=a)b", "(?<!a)b", "a++", "a*+", "(?>a+)", "(?(1)a|b)", "(?R)",
           "a\\Z", "(?#note)a", "(?x)a b"]
ENGINES_DISAGREE = ["\\pL", "\\p{Greek}", "[[:alpha:]]", "a(?i)b", "\\x{41}", "\\Q.*\\E", "a{,5}", "\\v", "[\\d-z]",
                    "(?U)a*", "(?<name>a)", "\\C", "\\0"]
VALID = ["^web[0-9]+$", "(web|db)01", "(ab)+", "x{2,3}", "\\(a+\\)+", "(?i:A)b", "[^]a-]", "\\.example\\.com\\z",
         ".*foo.*bar.*", "\\bweb\\d{2}\\b", "(?s)a.b", "\\x41\\t", "é+"]


def refused(params: list[tuple[str, str]], name: str) -> str:
    with pytest.raises(BadInput) as caught:
        parse_alert_query(params)
    assert name in caught.value.errors and name in caught.value.message
    return caught.value.message


def q_regex(pattern: str, options: str | None = "i") -> str:
    condition = {"$regex": pattern, **({"$options": options} if options is not None else {})}
    return json.dumps({"resource": condition})


@pytest.mark.parametrize("pattern", EXPONENTIAL)
def test_exponential_shapes_are_refused_in_a_filter_and_in_q(pattern: str) -> None:
    assert "repeats a group" in refused([("resource", "~" + pattern)], "resource")
    assert "repeats a group" in refused([("resource!", "~" + pattern)], "resource!")
    refused([("q", q_regex(pattern))], "q")
    with pytest.raises(BadInput):
        parse_heartbeat_query([("origin", "~" + pattern)])


@pytest.mark.parametrize("pattern", NOT_RE2)
def test_what_re2_cannot_express_is_refused(pattern: str) -> None:
    assert "not supported" in refused([("text", "~" + pattern)], "text")
    refused([("q", q_regex(pattern))], "q")


@pytest.mark.parametrize("pattern", ENGINES_DISAGREE)
def test_what_the_engines_read_differently_is_refused(pattern: str) -> None:
    refused([("event", "~" + pattern)], "event")


@pytest.mark.parametrize("pattern", VALID)
def test_ordinary_patterns_pass_unchanged(pattern: str) -> None:
    assert safe_regex(pattern, "resource") == pattern
    assert parse_alert_query([("resource", "~" + pattern)]).filter == {
        "resource": {"$regex": pattern, "$options": "i"}}


def test_only_the_i_option_is_accepted_in_q() -> None:
    # With x, spaces and comments are ignored: a comment hid the shape (a+)+ from the earlier check.
    message = refused([("q", q_regex("(a+) # a comment\n+", "x"))], "q")
    assert "$options" in message
    for options in ("m", "s", "ix", "u", "\x00"):
        refused([("q", q_regex("a", options))], "q")
    assert parse_alert_query([("q", q_regex("^web"))]).filter == {"resource": {"$regex": "^web", "$options": "i"}}
    assert parse_alert_query([("q", q_regex("^web", ""))]).filter == {"resource": {"$regex": "^web", "$options": ""}}
    assert parse_alert_query([("q", q_regex("^web", None))]).filter == {"resource": {"$regex": "^web"}}


def test_length_nul_and_undecodable_text_are_refused() -> None:
    assert "at most 256" in refused([("resource", "~" + "a" * 257)], "resource")
    assert "NUL" in refused([("resource", "~a\x00b")], "resource")
    refused([("resource", "~\udca0")], "resource")
    refused([("q", json.dumps({"resource": {"$regex": "\ud800"}}))], "q")
    chained = "".join("(a|b)" for _ in range(9))  # 2^9 ways through for a backtracking engine
    assert "alternations" in refused([("resource", "~" + chained)], "resource")


def test_counter_keys_are_matched_with_re2() -> None:
    """The counters' matcher evaluates a filter in the query service itself: with a backtracking engine this key
    would take 2^60 steps; RE2 is linear. (The filters refuse the pattern; the matcher must not depend on it.)"""
    match = key_filter({"environment": {"$regex": "(a|aa)+$", "$options": "i"}}, SEVERITY_FIELDS)
    assert match is not None
    assert not match({"environment": "a" * 60 + "!", "status": "open", "severity": "major"})
    assert match({"environment": "xAAa", "status": "open", "severity": "major"})
    negated = key_filter({"environment": {"$not": {"$regex": "^prod", "$options": "i"}}}, SEVERITY_FIELDS)
    assert negated is not None and negated({"environment": "Dev", "status": "open", "severity": "major"})
    assert not negated({"environment": "PRODUCTION", "status": "open", "severity": "major"})


def test_literal_values_are_escaped_for_every_engine() -> None:
    odd = "a b#c.d\x00e(f)\\"
    pattern = parse_alert_query([("resource", odd), ("resource", "~^x")]).filter["resource"]["$regex"]
    assert safe_regex(pattern, "resource") == pattern  # in the common syntax, with no NUL byte
    assert re2.search(pattern, odd) and re2.search(pattern, "x1") and not re2.search(pattern, odd + "!")
    short = parse_alert_query([("id", "ab\x00.")]).filter["_keys"]["$regex"]
    assert short == "^ab\\x00\\." and literal("\x7f-") == "\\x7f\\-"


# -- against the stack ------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def baited(stack: Stack) -> str:
    """A private environment of alerts whose resources make each refused pattern catastrophic, and three that
    ordinary patterns find."""
    env = environment()
    docs = [stored_alert(env, BAIT, event=f"Bait{i}") for i in range(SEEDED)]
    docs += [stored_alert(env, resource) for resource in ("web01", "WEB02", "db01")]
    await insert_alerts(stack.store, docs)
    return env


async def get(stack: Stack, path: str, *params: tuple[str, str]) -> tuple[int, Any]:
    return await stack.request("GET", f"{path}?{urlencode(params)}")


@pytest.mark.parametrize("pattern", REVIEWED)
@pytest.mark.parametrize("path", ["/alerts", "/alerts/count", "/alerts/top10", "/environments", "/alerts/history"])
async def test_reviewed_patterns_are_400_with_many_alerts(stack: Stack, baited: str, pattern: str, path: str) -> None:
    for params in ([("resource", "~" + pattern)], [("q", q_regex(pattern))], [("resource!", "~" + pattern)]):
        status, body = await get(stack, path, ("environment", baited), *params)
        name = params[0][0]
        assert status == 400, body
        assert name in body["message"] and "regular expression" in body["message"] and name in body["errors"]


async def test_x_option_with_a_comment_is_400(stack: Stack, baited: str) -> None:
    status, body = await get(stack, "/alerts", ("environment", baited), ("q", q_regex("(a|aa) # why\n+$", "x")))
    assert status == 400 and "q" in body["errors"] and "$options" in body["message"], body


async def test_valid_regexes_still_match_case_insensitively(stack: Stack, baited: str) -> None:
    env = ("environment", baited)

    async def resources(*params: tuple[str, str]) -> list[str]:
        status, body = await get(stack, "/alerts", env, *params)
        assert status == 200, body
        return sorted(alert["resource"] for alert in body["alerts"])

    assert await resources(("resource", "~^web\\d+$")) == ["WEB02", "web01"]
    assert await resources(("resource", "~^(web|db)0"), ("resource!", "~2$")) == ["db01", "web01"]
    assert await resources(("q", q_regex("^WEB"))) == ["WEB02", "web01"]
    assert await resources(("q", q_regex("^WEB", ""))) == ["WEB02"]  # no i: case counts, as in MongoDB
    status, body = await get(stack, "/alerts/count", env, ("resource", "~^A+!"))
    assert status == 200 and body["total"] == SEEDED, body


async def test_a_read_over_its_time_limit_raises_query_timeout(stack: Stack, baited: str) -> None:
    """The store stops the aggregation at maxTimeMS; the repository says so in the domain's words."""
    queries = AlertQueries(stack.store, max_time_ms=1)
    with pytest.raises(QueryTimeout, match="query took too long"):
        await queries.counts({"environment": baited, "text": {"$regex": "nothing-like-this", "$options": "i"}})
    unlimited = AlertQueries(stack.store)
    counts = await unlimited.counts({"environment": baited, "text": {"$regex": "^NodeDown on web", "$options": "i"}})
    assert counts.total == 2


@pytest_asyncio.fixture(scope="module")
async def hurried(store_url: str) -> AsyncIterator[Stack]:
    """A stack whose store reads may take 10 ms, over a database of a few thousand alerts."""
    async with start_stack(store_url, STORE_MAX_TIME_MS=10) as own:
        env = environment()
        await insert_alerts(own.store, (stored_alert(env, f"host{i}") for i in range(3000)))
        yield own


async def test_a_slow_query_is_503_query_took_too_long(hurried: Stack) -> None:
    status, body = await get(hurried, "/alerts", ("text", "~nothing-like-this"))
    assert status == 503, body
    assert body["status"] == "error" and body["message"] == "query took too long", body
