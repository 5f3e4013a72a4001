"""How the read repository shapes its queries (pure functions of ``services.query.reads``): which part of a
filter goes to an index, which severities a severity-sorted page reads, how the top 10 is grouped."""

from __future__ import annotations

from datetime import UTC, datetime

from services.query.pipelines import (
    LIFE_TIME,
    Counts,
    by_severity_then_time,
    match_stages,
    page_pipeline,
    severity_slices,
    split_for_index,
    top10_stages,
)

SINCE = {"$gt": datetime(2024, 1, 1, tzinfo=UTC)}


def test_the_index_head_is_the_longest_run_along_one_index() -> None:
    flt = {"environment": "P", "status": "open", "severityCode": 1, "lastReceiveTime": SINCE,
           "resource": {"$regex": "x"}}
    head, rest = split_for_index(flt)
    assert head == {"environment": "P", "status": "open", "severityCode": 1, "lastReceiveTime": SINCE}
    assert rest == {"resource": {"$regex": "x"}}


def test_a_range_or_in_ends_the_head() -> None:
    head, rest = split_for_index({"environment": "P", "status": {"$in": ["open", "ack"]}, "severityCode": 2})
    assert head == {"environment": "P", "status": {"$in": ["open", "ack"]}} and rest == {"severityCode": 2}


def test_fields_off_every_index_stay_in_the_rest() -> None:
    assert split_for_index({"environment": "P", "lastReceiveTime": SINCE}) == (
        {"environment": "P"}, {"lastReceiveTime": SINCE})
    assert split_for_index({"tags": "x", "lastReceiveTime": SINCE}) == ({"lastReceiveTime": SINCE}, {"tags": "x"})
    assert split_for_index({"environment": {"$regex": "P"}, "status": "open"}) == (
        {"status": "open"}, {"environment": {"$regex": "P"}})
    assert split_for_index({"$or": [{"_id": "a"}], "tags": "x"}) == ({}, {"$or": [{"_id": "a"}], "tags": "x"})


def test_match_stages() -> None:
    assert match_stages({}) == [{"$match": {}}]
    assert match_stages({"status": "open"}) == [{"$match": {"status": "open"}}]
    assert match_stages({"status": "open", "tags": "x"}) == [{"$match": {"status": "open"}}, {"$match": {"tags": "x"}}]
    assert match_stages({"tags": "x"}, {"history.type": "severity"}) == [
        {"$match": {"tags": "x"}}, {"$match": {"history.type": "severity"}}]


def test_page_pipeline_sorts_pages_and_hides() -> None:
    stages = page_pipeline({"status": "open"}, [("severityCode", 1), ("lastReceiveTime", -1)], 100, 50, {"_v": 0})
    assert stages == [{"$match": {"status": "open"}}, {"$sort": {"severityCode": 1, "lastReceiveTime": -1}},
                      {"$skip": 100}, {"$limit": 50}, {"$project": {"_v": 0}}]
    assert {"$skip": 0} not in page_pipeline({}, [("lastReceiveTime", -1)], 0, 5, {})


def counts(*pairs: tuple[str, str, int]) -> Counts:
    out = Counts()
    for severity, status, n in pairs:
        out.add(severity, status, n)
    return out


def test_counts_by_severity_order() -> None:
    c = counts(("ok", "closed", 2), ("cleared", "closed", 1), ("normal", "open", 1), ("major", "ack", 3))
    assert c.by_code() == {7: {"closed": 3, "open": 1}, 2: {"ack": 3}}
    assert (c.total, c.severity["ok"], c.status["closed"]) == (7, 2, 3)


def test_severity_slices_cover_exactly_the_page() -> None:
    c = counts(("critical", "open", 3), ("major", "open", 4), ("minor", "ack", 5))  # codes 1, 2, 3
    assert severity_slices(c, False, 0, 2) == [(1, 0, 2)]
    assert severity_slices(c, False, 2, 3) == [(1, 2, 3), (2, 0, 2)]
    assert severity_slices(c, False, 6, 50) == [(2, 3, 4), (3, 0, 5)]
    assert severity_slices(c, True, 0, 6) == [(3, 0, 5), (2, 0, 1)]
    assert severity_slices(c, False, 12, 5) == []


def test_only_severity_then_time_is_read_by_slices() -> None:
    assert by_severity_then_time([("severityCode", 1), ("lastReceiveTime", -1)])
    assert by_severity_then_time([("severityCode", -1), ("lastReceiveTime", 1)])
    assert not by_severity_then_time([("severityCode", 1), ("resource", 1), ("lastReceiveTime", -1)])
    assert not by_severity_then_time([("lastReceiveTime", -1)])


def test_top10_weighs_alerts_by_services_without_unwinding() -> None:
    stages = top10_stages("event", "count", 10)
    assert stages[0] == {"$set": {"weight": {"$multiply": [{"$size": "$service"}, 1]}}}
    group = stages[1]["$group"]
    assert group["_id"] == "$event" and group["count"] == {"$sum": "$weight"}
    assert group["resources"] == {"$push": {"id": "$_id", "resource": "$resource"}}
    assert not any("$unwind" in stage for stage in stages) and {"$limit": 10} in stages


def test_top10_by_service_groups_by_the_whole_list_as_alerta() -> None:
    stages = top10_stages("service", "flapping", 10)
    assert [next(iter(stage)) for stage in stages[:2]] == ["$set", "$group"]
    group = stages[1]["$group"]
    assert group["_id"] == "$service"
    # duplicates are summed over Alerta's rows (one per service and severity change)
    assert group["duplicateCount"] == {"$sum": {"$multiply": ["$duplicateCount", "$weight"]}}


def test_top10_standing_ranks_groups_by_the_time_they_stood() -> None:
    stages = top10_stages("event", "standing", 50)
    assert stages[1]["$group"]["lifeTime"] == {"$sum": LIFE_TIME}
    assert {"$sort": {"lifeTime": -1, "count": -1, "duplicateCount": -1, "_id": 1}} in stages
    assert {"$limit": 50} in stages and "lifeTime" not in stages[-1]["$project"]
