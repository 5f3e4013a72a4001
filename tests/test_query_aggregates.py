"""Count, top 10 (v3 and today's routes), history, environments and services, against the real stack."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .support import Stack
from .support.documents import environment, minutes, seed, stored_alert, with_history


async def get(stack: Stack, path: str, *params: tuple[str, str]) -> dict[str, Any]:
    status, body = await stack.request("GET", f"{path}?{urlencode(params)}")
    assert status == 200, body
    assert body["status"] == "ok"
    answer: dict[str, Any] = body
    return answer


async def seed_offenders(stack: Stack) -> str:
    env = environment()
    node_a = stored_alert(env, "node-a", "NodeDown", service=["Network"], at=minutes(1))
    node_a["duplicateCount"] = 4
    await seed(stack.store, [
        node_a,
        stored_alert(env, "node-b", "NodeDown", severity="critical", service=["Network", "Core"], at=minutes(2)),
        stored_alert(env, "disk-a", "DiskFull", severity="minor", service=["Storage"], status="ack", at=minutes(3)),
        stored_alert(env, "lonely", "NoService", service=[], at=minutes(4)),
    ])
    return env


async def test_count_over_every_match(stack: Stack) -> None:
    env = await seed_offenders(stack)
    body = await get(stack, "/alerts/count", ("environment", env))
    assert body["total"] == 4
    assert body["severityCounts"] == {"major": 2, "critical": 1, "minor": 1}
    assert body["statusCounts"] == {"open": 3, "ack": 1}
    body = await get(stack, "/api/alerts/count", ("environment", env), ("status", "ack"))
    assert (body["total"], body["severityCounts"]) == (1, {"minor": 1})
    empty = await get(stack, "/alerts/count", ("environment", environment()))
    assert (empty["total"], empty["severityCounts"], empty["statusCounts"]) == (0, {}, {})


async def test_top10_groups_by_event_with_sets(stack: Stack) -> None:
    env = await seed_offenders(stack)
    body = await get(stack, "/alerts/top10", ("environment", env))
    assert body["total"] == 2  # the alert without a service is not counted (as in Alerta)
    first, second = body["top10"]
    assert first["event"] == "NodeDown" and first["count"] == 3  # node-b counts once per service
    assert first["duplicateCount"] == 4
    assert first["environments"] == [env] and first["services"] == ["Core", "Network"]
    assert [r["resource"] for r in first["resources"]] == ["node-a", "node-b"]
    assert all(r["href"] == f"{stack.url}/alert/{r['id']}" for r in first["resources"])
    assert (second["event"], second["count"], second["services"]) == ("DiskFull", 1, ["Storage"])


async def test_top10_count_route_and_group_by(stack: Stack) -> None:
    env = await seed_offenders(stack)
    same = await get(stack, "/alerts/top10/count", ("environment", env))
    assert [row["event"] for row in same["top10"]] == ["NodeDown", "DiskFull"]
    by_resource = await get(stack, "/alerts/top10/count", ("environment", env), ("group-by", "resource"))
    assert [(row["resource"], row["count"]) for row in by_resource["top10"]] == [
        ("node-b", 2), ("node-a", 1), ("disk-a", 1)]  # ties: more duplicates first
    by_service = await get(stack, "/alerts/top10", ("environment", env), ("group-by", "service"))
    # as Alerta: grouped by the whole service list, each alert counted once per service
    assert [(row["service"], row["count"]) for row in by_service["top10"]] == [
        (["Network", "Core"], 2), (["Network"], 1), (["Storage"], 1)]


async def test_top10_flapping_counts_severity_changes(stack: Stack) -> None:
    env = environment()
    flappy = with_history(stored_alert(env, "flappy", "Flap", at=minutes(1)),
                          ("severity", "minor", minutes(2)), ("severity", "major", minutes(3)),
                          ("status", "major", minutes(4)))
    steady = with_history(stored_alert(env, "steady", "Steady", at=minutes(1)), ("value", "major", minutes(2)))
    once = with_history(stored_alert(env, "once", "Once", at=minutes(1)), ("severity", "critical", minutes(2)))
    await seed(stack.store, [flappy, steady, once])
    body = await get(stack, "/alerts/top10/flapping", ("environment", env))
    assert [(row["event"], row["count"]) for row in body["top10"]] == [("Flap", 2), ("Once", 1)]


async def test_top10_empty_is_200(stack: Stack) -> None:
    body = await get(stack, "/alerts/top10", ("environment", environment()))
    assert body["top10"] == [] and body["total"] == 0


async def test_history_one_record_per_entry_newest_first(stack: Stack) -> None:
    env = environment()
    web = with_history(stored_alert(env, "web01", "HttpError", severity="minor", tags=["eu"], at=minutes(1)),
                       ("severity", "critical", minutes(5)), ("status", "critical", minutes(7)))
    db = with_history(stored_alert(env, "db01", "DiskFull", at=minutes(2)), ("value", "major", minutes(6)))
    await seed(stack.store, [web, db])
    body = await get(stack, "/alerts/history", ("environment", env))
    history = body["history"]
    assert [(h["resource"], h["type"]) for h in history] == [
        ("web01", "status"), ("db01", "value"), ("web01", "severity"), ("db01", "new"), ("web01", "new")]
    assert body["total"] == 5 and body["lastTime"] == history[0]["updateTime"] == "2024-05-01T12:07:00.000Z"
    newest_severity = history[2]
    assert newest_severity["severity"] == "critical" and newest_severity["id"] == web["_id"]
    assert newest_severity["environment"] == env and newest_severity["tags"] == ["eu"]
    assert newest_severity["href"] == f"{stack.url}/alert/{web['_id']}"
    assert {"event", "status", "value", "text", "service", "group", "attributes", "origin", "user"} <= set(
        newest_severity)


async def test_history_filters_select_alerts_and_pages(stack: Stack) -> None:
    env = environment()
    web = with_history(stored_alert(env, "web01", at=minutes(1)), ("severity", "minor", minutes(5)))
    await seed(stack.store, [web, stored_alert(env, "db01", at=minutes(2))])
    only_web = await get(stack, "/alerts/history", ("environment", env), ("resource", "web01"))
    assert [h["type"] for h in only_web["history"]] == ["severity", "new"]
    second = await get(stack, "/alerts/history", ("environment", env), ("page", "2"), ("page-size", "2"))
    assert [(h["resource"], h["type"]) for h in second["history"]] == [("web01", "new")]
    assert (await get(stack, "/alerts/history", ("environment", environment())))["history"] == []


async def test_environments_count_per_environment(stack: Stack) -> None:
    env = await seed_offenders(stack)
    body = await get(stack, "/environments", ("environment", env))
    assert body["total"] == 1
    assert body["environments"] == [{
        "environment": env, "count": 4, "severityCounts": {"major": 2, "critical": 1, "minor": 1},
        "statusCounts": {"open": 3, "ack": 1},
    }]
    everything = await get(stack, "/environments")
    assert env in [row["environment"] for row in everything["environments"]]
    assert (await get(stack, "/environments", ("environment", environment())))["environments"] == []


async def test_services_count_per_environment_and_service(stack: Stack) -> None:
    env = await seed_offenders(stack)
    body = await get(stack, "/services", ("environment", env))
    assert [(row["service"], row["count"]) for row in body["services"]] == [
        ("Core", 1), ("Network", 2), ("Storage", 1)]
    assert body["services"][1]["severityCounts"] == {"major": 1, "critical": 1}
    assert all(row["environment"] == env for row in body["services"])
    # a service filter selects the single service, not the other services of the same alerts
    core = await get(stack, "/services", ("environment", env), ("service", "Core"))
    assert [(row["service"], row["count"]) for row in core["services"]] == [("Core", 1)]
    assert (await get(stack, "/services", ("environment", environment())))["services"] == []


async def test_groups_and_tags_count_per_environment(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [
        stored_alert(env, "a", group="Web", tags=["eu", "dc1"], at=minutes(1)),
        stored_alert(env, "b", group="Web", tags=["eu"], severity="minor", at=minutes(2)),
        stored_alert(env, "c", group="Db", tags=[], at=minutes(3)),
    ])
    groups = await get(stack, "/alerts/groups", ("environment", env))
    assert [(row["group"], row["count"]) for row in groups["groups"]] == [("Db", 1), ("Web", 2)]
    tags = await get(stack, "/alerts/tags", ("environment", env))
    assert [(row["tag"], row["count"]) for row in tags["tags"]] == [("dc1", 1), ("eu", 2)]
    assert tags["tags"][1]["severityCounts"] == {"major": 1, "minor": 1}


async def test_management_status_reports_version_and_uptime(stack: Stack) -> None:
    body = await get(stack, "/management/status")
    assert body["application"] == "alertbus" and body["version"] and body["uptime"] >= 0
    assert isinstance(body["metrics"], list)


async def test_top10_weighs_by_services_as_alerta_unwinds_them(stack: Stack) -> None:
    env = environment()
    flappy = with_history(stored_alert(env, "flappy", "Flap", service=["A", "B"], at=minutes(1)),
                          ("severity", "minor", minutes(2)), ("severity", "major", minutes(3)))
    flappy["duplicateCount"] = 3
    await seed(stack.store, [flappy, stored_alert(env, "calm", "Flap", service=["B"], at=minutes(1))])
    by_event = (await get(stack, "/alerts/top10", ("environment", env)))["top10"]
    assert [(r["event"], r["count"], r["duplicateCount"], r["services"]) for r in by_event] == [
        ("Flap", 3, 6, ["A", "B"])]
    flapping = (await get(stack, "/alerts/top10/flapping", ("environment", env)))["top10"]
    # Alerta sums the duplicates over its rows: 3 duplicates x 2 services x 2 severity changes
    assert [(r["event"], r["count"], r["duplicateCount"]) for r in flapping] == [("Flap", 4, 12)]
    by_service = (await get(stack, "/alerts/top10/flapping", ("environment", env), ("group-by", "service")))["top10"]
    assert [(r["service"], r["count"], [x["resource"] for x in r["resources"]]) for r in by_service] == [
        (["A", "B"], 4, ["flappy"])]
    plain = (await get(stack, "/alerts/top10", ("environment", env), ("group-by", "service")))["top10"]
    assert [(r["service"], r["count"], len(r["resources"])) for r in plain] == [(["A", "B"], 2, 1), (["B"], 1, 1)]
