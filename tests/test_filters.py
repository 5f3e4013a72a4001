"""The query-string language as a pure function: parameters in, filter / sort / paging out."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from services.query.filters import (
    NON_EXPIRED,
    combine,
    parse_alert_query,
    parse_heartbeat_query,
)
from shared.regexes import safe_regex
from shared.schemas import BadInput


def flt(*params: tuple[str, str]) -> dict[str, Any]:
    return parse_alert_query(list(params)).filter


def test_equality_and_repeats_as_in() -> None:
    assert flt(("resource", "web01")) == {"resource": "web01"}
    assert flt(("resource", "a"), ("resource", "b")) == {"resource": {"$in": ["a", "b"]}}


def test_negation_single_and_repeated() -> None:
    assert flt(("event!", "Ping")) == {"event": {"$ne": "Ping"}}
    assert flt(("event!", "a"), ("event!", "b")) == {"event": {"$nin": ["a", "b"]}}


def test_regex_is_case_insensitive_and_negatable() -> None:
    assert flt(("resource", "~^web")) == {"resource": {"$regex": "^web", "$options": "i"}}
    assert flt(("resource!", "~^web")) == {"resource": {"$not": {"$regex": "^web", "$options": "i"}}}


def test_mixed_plain_and_regex_values_join_with_exact_plain_values() -> None:
    pattern = flt(("resource", "web.01"), ("resource", "~^db"))["resource"]["$regex"]
    assert pattern == r"(?:^web\.01$)|(?:^db)"
    assert re.search(pattern, "WEB.01", re.I) and not re.search(pattern, "webx01", re.I)


def test_field_and_negation_of_one_field_both_hold() -> None:
    assert flt(("status", "open"), ("status!", "ack")) == {
        "$and": [{"status": "open"}, {"status": {"$ne": "ack"}}]}


def test_typed_fields() -> None:
    assert flt(("duplicateCount", "3")) == {"duplicateCount": 3}
    assert flt(("timeout", "10"), ("timeout", "20")) == {"timeout": {"$in": [10, 20]}}
    assert flt(("repeat", "true")) == {"repeat": True}
    assert flt(("repeat!", "no")) == {"repeat": {"$ne": False}}


def test_attribute_paths_and_array_fields_are_plain_fields() -> None:
    assert flt(("attributes.region", "EU"), ("tags", "x")) == {"attributes.region": "EU", "tags": "x"}
    assert flt(("attributes.deep.path", "~v")) == {"attributes.deep.path": {"$regex": "v", "$options": "i"}}


def test_id_is_exact_for_whole_ids_and_an_escaped_prefix_otherwise() -> None:
    whole = "0d9e3c9a-6c4c-4b1e-9a53-5d3e9bdb2f11"
    assert flt(("id", whole)) == {"_keys": whole}
    assert flt(("id", "ab.d")) == {"_keys": {"$regex": r"^ab\.d"}}
    both = flt(("id", "abcd"), ("id", whole))["_keys"]["$regex"]
    assert both == f"^(?:abcd|{re.escape(whole)}$)"


def test_dates_bound_last_receive_time() -> None:
    spec = flt(("from-date", "2024-01-02T03:04:05.678Z"), ("to-date", "2024-01-03T00:00:00"))
    assert spec == {"lastReceiveTime": {
        "$gt": datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "$lte": datetime(2024, 1, 3, tzinfo=UTC)}}


def test_expired_hidden_unless_status_filtered() -> None:
    assert parse_alert_query([("environment", "P")]).visible() == {"environment": "P", "status": {"$in": NON_EXPIRED}}
    assert "expired" not in NON_EXPIRED and "open" in NON_EXPIRED
    for params in ([("status", "expired")], [("status!", "open")], [("q", '{"status": "expired"}')]):
        query = parse_alert_query(params)
        assert query.visible() == query.filter


def test_default_sort_and_severity_order() -> None:
    assert parse_alert_query([]).sort == [("lastReceiveTime", -1)]
    assert parse_alert_query([("sort-by", "severity")]).sort == [("severityCode", 1), ("lastReceiveTime", -1)]
    assert parse_alert_query([("sort-by", "-severity")]).sort == [("severityCode", -1), ("lastReceiveTime", -1)]


def test_dates_sort_newest_first_and_minus_or_reverse_flip() -> None:
    assert parse_alert_query([("sort-by", "createTime")]).sort == [("createTime", -1), ("lastReceiveTime", -1)]
    assert parse_alert_query([("sort-by", "-createTime")]).sort == [("createTime", 1), ("lastReceiveTime", -1)]
    assert parse_alert_query([("sort-by", "resource"), ("sort-by", "id"), ("reverse", "")]).sort == [
        ("resource", -1), ("_id", -1), ("lastReceiveTime", 1)]
    assert parse_alert_query([("reverse", "false")]).sort == [("lastReceiveTime", -1)]
    assert parse_alert_query([("sort-by", "event"), ("sort-by", "-event")]).sort == [
        ("event", 1), ("lastReceiveTime", -1)]  # the first mention of a field wins


def test_paging_defaults_and_limits() -> None:
    query = parse_alert_query([], default_page_size=25)
    assert (query.page, query.page_size, query.skip) == (1, 25, 0)
    query = parse_alert_query([("page", "3"), ("page-size", "10")])
    assert (query.page, query.page_size, query.skip) == (3, 10, 20)
    assert parse_alert_query([("limit", "5")]).page_size == 5
    assert parse_alert_query([("limit", "0")]).page_size == 1000
    assert parse_alert_query([("limit", "50000")]).page_size == 1000


def test_flags_and_group_by() -> None:
    query = parse_alert_query([("show-history", "true"), ("show-raw-data", "1"), ("group-by", "resource")])
    assert query.show_history and query.show_raw_data and query.group_by == "resource"
    assert parse_alert_query([]).group_by == "event"


def test_ignored_parameters() -> None:
    assert flt(("_", "1"), ("callback", "cb"), ("api-key", "k"), ("token", "t")) == {}


def test_q_is_combined_with_the_other_filters() -> None:
    spec = flt(("environment", "P"), ("q", '{"$or": [{"service": "Nova"}, {"id": "ab"}], "tags": {"$in": ["x"]}}'))
    assert spec == {"environment": "P", "$or": [{"service": "Nova"}, {"_id": "ab"}], "tags": {"$in": ["x"]}}
    clash = flt(("environment", "P"), ("q", '{"environment": "D"}'))
    assert clash == {"$and": [{"environment": "P"}, {"environment": "D"}]}


def test_q_dates_become_datetimes() -> None:
    spec = flt(("q", '{"createTime": {"$gte": "2024-01-01T00:00:00Z"}}'))
    assert spec == {"createTime": {"$gte": datetime(2024, 1, 1, tzinfo=UTC)}}


@pytest.mark.parametrize("q", [
    '{"$where": "sleep(1000)"}', '{"resource": {"$where": 1}}', '{"password": 1}', '{"resource": {"a": 1}}',
    '{"resource": {"$options": "i"}}', '{"resource": {"$regex": "x", "$options": "u"}}', '{"$and": {}}',
    '{"tags": {"$in": "x"}}', '{"tags": {"$exists": 1}}', '{"x": 1', '{"text"}', '{"timeout": 99999999999999999999}',
    '{"resource": {"$regex": 5}}', '{"resource": [1, 2]}', '{"$nor": []}',
    '{"$and": [' * 10 + '{"resource": "x"}' + ']}' * 10,  # nested deeper than the limit
])
def test_q_outside_the_white_list_is_refused(q: str) -> None:
    """A q starting with { is a JSON query document, checked as such (anything else is a query string)."""
    with pytest.raises(BadInput) as caught:
        parse_alert_query([("q", q)])
    assert "q" in caught.value.errors


@pytest.mark.parametrize(("params", "name"), [
    ([("unknown", "x")], "unknown"), ([("updateTime", "x")], "updateTime"), ([("id!", "x")], "id!"),
    ([("severity", "huge")], "severity"), ([("previousSeverity", "huge")], "previousSeverity"),
    ([("status", "asleep")], "status"), ([("duplicateCount", "1.5")], "duplicateCount"),
    ([("duplicateCount", "~1")], "duplicateCount"), ([("page", "-1")], "page"), ([("page-size", "x")], "page-size"),
    ([("page", "13420417863613460480")], "page"),  # found by the fuzz test: was a 500 (skip beyond 64 bits)
    ([("sort-by", "-nothing")], "sort-by"), ([("sort-by", "attributes.x")], "sort-by"),
    ([("group-by", "createTime")], "group-by"), ([("from-date", "")], "from-date"),
])
def test_bad_parameters_name_themselves(params: list[tuple[str, str]], name: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_alert_query(params)
    assert name in caught.value.message and name in caught.value.errors


@pytest.mark.parametrize("pattern", ["(a+)+", "(a*)*b", "(x+x+)+y", "(\\w+\\s?)*$", "(a|b+){2,}"])
def test_catastrophic_regexes_are_refused(pattern: str) -> None:
    with pytest.raises(BadInput):
        safe_regex(pattern, "resource")


@pytest.mark.parametrize("pattern", ["^web[0-9]+$", "a+b*", "(web|db)01", "(ab)+", "x{2,3}", r"\(a+\)+"])
def test_ordinary_regexes_pass(pattern: str) -> None:
    assert safe_regex(pattern, "resource") == pattern


def test_regex_length_limit() -> None:
    assert safe_regex("a" * 256, "r")
    with pytest.raises(BadInput):
        safe_regex("a" * 257, "r")


def test_combine_keeps_plain_fields_flat() -> None:
    assert combine({"a": 1}, {}) == {"a": 1} and combine({}, {"b": 2}) == {"b": 2}
    assert combine({"a": 1}, {"b": 2}) == {"a": 1, "b": 2}
    assert combine({"a": 1}, {"a": 2}) == {"$and": [{"a": 1}, {"a": 2}]}


def test_heartbeat_query() -> None:
    query = parse_heartbeat_query([("origin", "~^web"), ("status", "slow"), ("status", "expired"), ("id", "abcd")])
    assert query.filter == {"origin": {"$regex": "^web", "$options": "i"}, "_id": {"$regex": "^abcd"}}
    assert query.statuses == ("slow", "expired") and query.sort == [("receiveTime", -1)]
    with pytest.raises(BadInput):
        parse_heartbeat_query([("environment", "x")])


@pytest.mark.parametrize("date", [
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+00:31"])
@pytest.mark.parametrize("name", ["from-date", "to-date"])
def test_dates_out_of_range_once_in_utc_name_their_parameter(name: str, date: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_alert_query([(name, date)])
    assert name in caught.value.errors and "between the years 1 and 9999" in caught.value.message


@pytest.mark.parametrize("date", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_dates_out_of_range_in_q_name_q(date: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_alert_query([("q", json.dumps({"createTime": {"$gte": date}}))])
    assert "q" in caught.value.errors


def test_extreme_dates_that_fit_are_accepted() -> None:
    spec = flt(("from-date", "0001-01-01T00:00:00-01:00"), ("to-date", "9999-12-31T23:59:59+01:00"))
    assert spec == {"lastReceiveTime": {"$gt": datetime(1, 1, 1, 1, tzinfo=UTC),
                                        "$lte": datetime(9999, 12, 31, 22, 59, 59, tzinfo=UTC)}}


@pytest.mark.parametrize("name", [
    "attributes.a\x00b", "attributes.", "attributes.$x", "attributes.a.$x", "attributes.a..b", "attributes..a",
    "attributes." + ".".join("a" * 32), "attributes." + "a" * 250, "attributes.\udca0", "attributes.a\udce9",
])
def test_odd_attribute_names_are_refused(name: str) -> None:
    for param in (name, name + "!"):
        with pytest.raises(BadInput) as caught:
            parse_alert_query([(param, "1")])
        assert param in caught.value.errors and "invalid attribute path" in caught.value.message
    with pytest.raises(BadInput) as caught:
        parse_alert_query([("q", json.dumps({name: 1}))])
    assert "q" in caught.value.errors


def test_deep_and_unusual_attribute_names_that_are_fields_pass() -> None:
    deep = "attributes." + ".".join("abcdefghijklmnopqrstuvwxyz12345")  # 32 parts in all
    assert flt((deep, "v")) == {deep: "v"}
    assert flt(("attributes.a b", "v"), ("attributes.é-ü", "w")) == {"attributes.a b": "v", "attributes.é-ü": "w"}


@pytest.mark.parametrize("params", [
    [("resource", "\udca0")], [("resource", "a\udce9b")], [("resource!", "\ud800")],
    [("tags", "x"), ("tags", "\udc80")], [("id", "ab\udca0")], [("q", '{"resource": "\\ud800"}')],
    [("q", '{"tags": {"$in": ["x", "\\udc00"]}}')],
])
def test_text_that_cannot_be_encoded_is_refused(params: list[tuple[str, str]]) -> None:
    with pytest.raises(BadInput) as caught:
        parse_alert_query(params)
    assert params[-1][0] in caught.value.errors and "not valid Unicode" in caught.value.message


def test_nul_in_a_value_is_a_value() -> None:
    # BSON strings carry NUL (field names cannot): an exact value with NUL is matched as such.
    assert flt(("resource", "a\x00b")) == {"resource": "a\x00b"}
