"""``GET /alerts`` against the real stack (gateway → query service → SecantusDB): every filter form, every
sort, paging edges and the response shape. Each test seeds its own private environment through the store."""

from __future__ import annotations

from .support import Stack, alert, unique
from .support.documents import environment, list_alerts, minutes, resources, seed, stored_alert


def test_stored_alert_has_the_internal_severity_order() -> None:
    """The factory of the seeded documents (tests/support/documents.py) gives what the worker stores."""
    doc = stored_alert("Production", "web01", severity="critical", status="ack", at=minutes(5))
    assert doc["severityCode"] == 1 and doc["status"] == "ack"
    assert doc["lastReceiveTime"] == minutes(5) and doc["_id"] == doc["lastReceiveId"]
    assert [entry["type"] for entry in doc["history"]] == ["new"]


async def test_list_has_todays_shape_and_hides_history(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, "web01", at=minutes(1), rawData="raw"),
                             stored_alert(env, "web02", severity="minor", at=minutes(2))])
    body = await list_alerts(stack, ("environment", env))
    assert body["status"] == "ok" and body["autoRefresh"] is True
    assert (body["total"], body["page"], body["pageSize"], body["pages"], body["more"]) == (2, 1, 50, 1, False)
    assert resources(body) == ["web02", "web01"]  # newest first by default
    assert body["severityCounts"] == {"major": 1, "minor": 1} and body["statusCounts"] == {"open": 2}
    assert body["lastTime"] == "2024-05-01T12:02:00.000Z"
    first = body["alerts"][0]
    assert first["history"] == [] and first["rawData"] is None  # as Alerta lists them
    assert first["href"].endswith(f"/alert/{first['id']}") and first["href"].startswith(stack.url)
    assert not {"_v", "_rids", "severityCode", "_id"} & set(first)
    shown = await list_alerts(stack, ("environment", env), ("show-history", "true"), ("show-raw-data", "true"))
    assert [len(item["history"]) for item in shown["alerts"]] == [1, 1]
    assert shown["alerts"][1]["rawData"] == "raw"


async def test_api_prefix_and_alerts_from_the_pipeline(stack: Stack) -> None:
    resource = unique()
    status, created = await stack.post_alert(alert(resource, tags=["query-api"]))
    assert status == 201, created
    body = await list_alerts(stack, ("resource", resource), path="/api/alerts")
    assert [item["id"] for item in body["alerts"]] == [created["id"]]
    assert body["alerts"][0]["href"] == f"{stack.url}/api/alert/{created['id']}"


async def test_empty_result_is_200_with_empty_collections(stack: Stack) -> None:
    body = await list_alerts(stack, ("environment", environment()))
    assert body["alerts"] == [] and body["total"] == 0 and body["pages"] == 0 and body["more"] is False
    assert body["severityCounts"] == {} and body["statusCounts"] == {}
    assert body["lastTime"].endswith("Z")


async def test_equality_repeats_negation_and_regex(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [
        stored_alert(env, "web01", "HttpError", at=minutes(1)),
        stored_alert(env, "web02", "HttpError", at=minutes(2)),
        stored_alert(env, "db01", "DiskFull", at=minutes(3)),
        stored_alert(env, "DB02", "DiskFull", at=minutes(4)),
    ])
    assert resources(await list_alerts(stack, ("environment", env), ("resource", "web01"))) == ["web01"]
    both = await list_alerts(stack, ("environment", env), ("resource", "web01"), ("resource", "db01"))
    assert resources(both) == ["db01", "web01"]
    assert resources(await list_alerts(stack, ("environment", env), ("event!", "HttpError"))) == ["DB02", "db01"]
    neither = await list_alerts(stack, ("environment", env), ("resource!", "web01"), ("resource!", "DB02"))
    assert resources(neither) == ["db01", "web02"]
    assert resources(await list_alerts(stack, ("environment", env), ("resource", "~^db"))) == ["DB02", "db01"]
    assert resources(await list_alerts(stack, ("environment", env), ("resource!", "~^DB"))) == ["web02", "web01"]
    mixed = await list_alerts(stack, ("environment", env), ("resource", "web02"), ("resource", "~02$"))
    assert resources(mixed) == ["DB02", "web02"]
    # a plain value among regexes is exact: "web0" names no alert
    assert resources(await list_alerts(stack, ("environment", env), ("resource", "web0"), ("resource", "~xyz"))) == []


async def test_arrays_match_by_element_and_attributes_by_path(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [
        stored_alert(env, "a", service=["Web", "Api"], tags=["london", "dc1"], attributes={"region": "EU"},
                     at=minutes(1)),
        stored_alert(env, "b", service=["Db"], tags=["paris"], attributes={"region": "US", "rack": "r1"},
                     at=minutes(2)),
    ])
    assert resources(await list_alerts(stack, ("environment", env), ("service", "Api"))) == ["a"]
    assert resources(await list_alerts(stack, ("environment", env), ("tags", "paris"), ("tags", "dc1"))) == ["b", "a"]
    assert resources(await list_alerts(stack, ("environment", env), ("tags!", "london"))) == ["b"]
    assert resources(await list_alerts(stack, ("environment", env), ("attributes.region", "EU"))) == ["a"]
    assert resources(await list_alerts(stack, ("environment", env), ("attributes.rack", "~R"))) == ["b"]


async def test_typed_fields_compare_as_stored(stack: Stack) -> None:
    env = environment()
    noisy = stored_alert(env, "noisy", at=minutes(1))
    noisy.update(duplicateCount=7, repeat=True)
    await seed(stack.store, [noisy, stored_alert(env, "quiet", at=minutes(2))])
    assert resources(await list_alerts(stack, ("environment", env), ("duplicateCount", "7"))) == ["noisy"]
    assert resources(await list_alerts(stack, ("environment", env), ("repeat", "false"))) == ["quiet"]
    assert resources(await list_alerts(stack, ("environment", env), ("timeout", "86400"))) == ["quiet", "noisy"]


async def test_id_matches_prefix_of_id_and_last_receive_id(stack: Stack) -> None:
    env = environment()
    first, second = stored_alert(env, "one", at=minutes(1)), stored_alert(env, "two", at=minutes(2))
    second["lastReceiveId"] = "feedface-0000-4000-8000-000000000000"
    await seed(stack.store, [first, second])
    assert resources(await list_alerts(stack, ("environment", env), ("id", first["_id"]))) == ["one"]
    assert resources(await list_alerts(stack, ("environment", env), ("id", first["_id"][:8]))) == ["one"]
    assert resources(await list_alerts(stack, ("environment", env), ("id", "feedface"))) == ["two"]
    both = await list_alerts(stack, ("environment", env), ("id", first["_id"][:5]), ("id", second["_id"]))
    assert resources(both) == ["two", "one"]
    assert resources(await list_alerts(stack, ("environment", env), ("id", "a.*"))) == []  # escaped, not a regex


async def test_from_date_and_to_date_bound_last_receive_time(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, f"r{n}", at=minutes(n)) for n in range(1, 5)])
    after = await list_alerts(stack, ("environment", env), ("from-date", "2024-05-01T12:02:00.000Z"))
    assert resources(after) == ["r4", "r3"]  # strictly after
    until = await list_alerts(stack, ("environment", env), ("to-date", "2024-05-01T12:02:00.000Z"))
    assert resources(until) == ["r2", "r1"]  # up to and including
    window = await list_alerts(stack, ("environment", env), ("from-date", "2024-05-01T12:01:00Z"),
                               ("to-date", "2024-05-01T12:03:00+00:00"))
    assert resources(window) == ["r3", "r2"]


async def test_expired_hidden_unless_status_is_filtered(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, "live", at=minutes(1)),
                             stored_alert(env, "gone", status="expired", at=minutes(2))])
    default = await list_alerts(stack, ("environment", env))
    assert resources(default) == ["live"] and default["statusCounts"] == {"open": 1}
    assert resources(await list_alerts(stack, ("environment", env), ("status", "expired"))) == ["gone"]
    assert resources(await list_alerts(stack, ("environment", env), ("status!", "open"))) == ["gone"]
    # the count endpoint has no implicit exclusion (Alerta v3)
    status, counts = await stack.request("GET", f"/alerts/count?environment={env}")
    assert status == 200 and counts["total"] == 2


async def test_q_json_query_with_whitelisted_operators(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [
        stored_alert(env, "nova01", service=["Nova"], at=minutes(1)),
        stored_alert(env, "web01", service=["Web"], at=minutes(2)),
        stored_alert(env, "nova02", service=["Compute"], severity="critical", at=minutes(3)),
    ])
    q = '{"$or":[{"service":"Nova"},{"resource":{"$regex":"^nova","$options":"i"}}]}'
    assert resources(await list_alerts(stack, ("environment", env), ("q", q))) == ["nova02", "nova01"]
    q = '{"severity":{"$in":["critical"]},"lastReceiveTime":{"$gte":"2024-05-01T12:02:00Z"}}'
    assert resources(await list_alerts(stack, ("environment", env), ("q", q))) == ["nova02"]
    q = '{"$and":[{"attributes.none":{"$exists":false}},{"duplicateCount":{"$lt":1}},{"resource":{"$ne":"web01"}}]}'
    assert resources(await list_alerts(stack, ("environment", env), ("q", q))) == ["nova02", "nova01"]
