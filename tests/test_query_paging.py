"""``GET /alerts`` sorting (every sort form) and paging edges, against the real stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .support import Stack
from .support.documents import environment, list_alerts, minutes, resources, seed, stored_alert


async def seed_mixed(stack: Stack) -> str:
    """Four alerts whose orders differ by time, severity, resource and event."""
    env = environment()
    await seed(stack.store, [
        stored_alert(env, "b-host", "Zeta", severity="minor", at=minutes(1)),
        stored_alert(env, "a-host", "Alpha", severity="critical", at=minutes(2)),
        stored_alert(env, "d-host", "Beta", severity="warning", at=minutes(3)),
        stored_alert(env, "c-host", "Gamma", severity="critical", at=minutes(4)),
    ])
    return env


async def test_default_sort_is_newest_first(stack: Stack) -> None:
    env = await seed_mixed(stack)
    assert resources(await list_alerts(stack, ("environment", env))) == ["c-host", "d-host", "a-host", "b-host"]


async def test_severity_sorts_by_severity_order_then_newest(stack: Stack) -> None:
    env = await seed_mixed(stack)
    body = await list_alerts(stack, ("environment", env), ("sort-by", "severity"))
    # critical before minor before warning alphabetically would be wrong: the order is the alarm model's
    assert resources(body) == ["c-host", "a-host", "b-host", "d-host"]
    flipped = await list_alerts(stack, ("environment", env), ("sort-by", "-severity"))
    assert resources(flipped) == ["d-host", "b-host", "c-host", "a-host"]


async def test_sort_by_strings_ascending_and_minus_flips(stack: Stack) -> None:
    env = await seed_mixed(stack)
    assert resources(await list_alerts(stack, ("environment", env), ("sort-by", "resource"))) == [
        "a-host", "b-host", "c-host", "d-host"]
    assert resources(await list_alerts(stack, ("environment", env), ("sort-by", "-event"))) == [
        "b-host", "c-host", "d-host", "a-host"]


async def test_sort_by_dates_defaults_to_newest_first(stack: Stack) -> None:
    env = await seed_mixed(stack)
    assert resources(await list_alerts(stack, ("environment", env), ("sort-by", "lastReceiveTime"))) == [
        "c-host", "d-host", "a-host", "b-host"]
    assert resources(await list_alerts(stack, ("environment", env), ("sort-by", "-createTime"))) == [
        "b-host", "a-host", "d-host", "c-host"]


async def test_repeated_sort_by_is_compound_and_reverse_flips_all(stack: Stack) -> None:
    env = await seed_mixed(stack)
    body = await list_alerts(stack, ("environment", env), ("sort-by", "severity"), ("sort-by", "resource"))
    assert resources(body) == ["a-host", "c-host", "b-host", "d-host"]
    body = await list_alerts(stack, ("environment", env), ("sort-by", "severity"), ("sort-by", "resource"),
                             ("reverse", "1"))
    assert resources(body) == ["d-host", "b-host", "c-host", "a-host"]
    body = await list_alerts(stack, ("environment", env), ("reverse", "false"))
    assert resources(body) == ["c-host", "d-host", "a-host", "b-host"]  # reverse=false does not flip


async def test_pages_walk_every_alert_once(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, f"r{n:02d}", at=minutes(n)) for n in range(7)])
    seen = []
    for page in (1, 2, 3):
        body = await list_alerts(stack, ("environment", env), ("page", str(page)), ("page-size", "3"))
        assert (body["total"], body["page"], body["pageSize"], body["pages"]) == (7, page, 3, 3)
        assert body["more"] is (page < 3)
        seen += resources(body)
    assert seen == [f"r{n:02d}" for n in reversed(range(7))]
    last = await list_alerts(stack, ("environment", env), ("page", "3"), ("page-size", "3"))
    assert resources(last) == ["r00"]  # the last page is partial


async def test_page_past_the_end_is_416_naming_the_pages(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, f"r{n}", at=minutes(n)) for n in range(3)])
    status, body = await stack.request("GET", f"/alerts?environment={env}&page=5&page-size=2")
    assert status == 416 and body["message"] == "page out of range: 1-2"  # as Alerta 9.1
    body = await list_alerts(stack, ("environment", env), ("page", "2"), ("page-size", "2"))
    assert len(body["alerts"]) == 1 and body["more"] is False
    assert (body["total"], body["pages"], body["page"]) == (3, 2, 2)
    assert body["severityCounts"] == {"major": 3}


async def test_exact_multiple_of_page_size_has_no_more(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, f"r{n}", at=minutes(n)) for n in range(4)])
    body = await list_alerts(stack, ("environment", env), ("page", "2"), ("page-size", "2"))
    assert len(body["alerts"]) == 2 and body["pages"] == 2 and body["more"] is False


async def test_v3_limit_is_the_page_size(stack: Stack) -> None:
    env = environment()
    await seed(stack.store, [stored_alert(env, f"r{n}", at=minutes(n)) for n in range(3)])
    body = await list_alerts(stack, ("environment", env), ("limit", "2"))
    assert resources(body) == ["r2", "r1"] and body["more"] is True and body["pageSize"] == 2
    body = await list_alerts(stack, ("environment", env), ("limit", "0"))  # v3: 0 = no limit
    assert len(body["alerts"]) == 3 and body["pageSize"] == 1000
    body = await list_alerts(stack, ("environment", env), ("limit", "1"), ("page-size", "3"))
    assert len(body["alerts"]) == 3  # page-size wins over limit


async def test_severity_pages_cross_severities_and_statuses(stack: Stack) -> None:
    """Every page of a severity-sorted list, walked in order, is the whole list in severity-then-time order,
    whatever the mix of statuses within one severity."""
    env = environment()
    plan = [("critical", "open"), ("critical", "ack"), ("major", "open"), ("critical", "shelved"),
            ("minor", "ack"), ("major", "ack"), ("critical", "open"), ("minor", "open"), ("major", "expired"),
            ("ok", "closed"), ("cleared", "closed"), ("security", "open")]
    docs = [stored_alert(env, f"r{n:02d}", severity=sev, status=status, at=minutes(n))
            for n, (sev, status) in enumerate(plan)]
    await seed(stack.store, docs)
    visible = [d for d in docs if d["status"] != "expired"]

    def order(direction: int) -> list[str]:
        ranked = sorted(visible, key=lambda d: (direction * d["severityCode"], -direction * d["lastReceiveTime"]
                                                .timestamp()))
        return [d["resource"] for d in ranked]

    for extra, wanted in (((), order(1)), ((("reverse", "1"),), order(-1))):
        walked = []
        for page in range(1, 7):  # 11 visible alerts, 2 a page (a 7th page would be 416)
            body = await list_alerts(stack, ("environment", env), ("sort-by", "severity"), ("page", str(page)),
                                     ("page-size", "2"), *extra)
            assert body["total"] == len(visible)
            walked += resources(body)
        assert walked == wanted


async def test_severity_sort_with_status_filters(stack: Stack) -> None:
    env = environment()
    docs = [stored_alert(env, f"r{n}", severity=sev, status=status, at=minutes(n)) for n, (sev, status) in
            enumerate([("major", "open"), ("critical", "ack"), ("major", "ack"), ("critical", "open")])]
    await seed(stack.store, docs)
    body = await list_alerts(stack, ("environment", env), ("status", "open"), ("sort-by", "severity"))
    assert resources(body) == ["r3", "r0"]
    body = await list_alerts(stack, ("environment", env), ("status", "open"), ("status", "ack"),
                             ("sort-by", "severity"), ("page-size", "3"))
    assert resources(body) == ["r3", "r1", "r2"] and body["more"] is True
    body = await list_alerts(stack, ("environment", env), ("resource", "~r[12]"), ("sort-by", "severity"))
    assert resources(body) == ["r1", "r2"]


async def test_severity_pages_of_a_large_slice_read_recent_alerts_first(stack: Stack) -> None:
    """A large (severity, status) slice is read through widening windows of recent receive times; the pages
    are the same as reading it whole."""
    env = environment()
    now = datetime.now(UTC)
    ages = [timedelta(minutes=5 * n) for n in range(5)] + [timedelta(hours=2 + n / 3) for n in range(10)] + [
        timedelta(days=10, minutes=n) for n in range(25)]
    docs = [stored_alert(env, f"r{n:02d}", severity="critical", at=now - age) for n, age in enumerate(ages)]
    await seed(stack.store, docs)
    walked = []
    for page in range(1, 21):
        body = await list_alerts(stack, ("environment", env), ("sort-by", "severity"), ("page", str(page)),
                                 ("page-size", "2"))
        walked += resources(body)
    assert walked == [f"r{n:02d}" for n in range(40)]  # newest first: the order they were made in
