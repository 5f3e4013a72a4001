"""The blackout rule as pure functions (shared/blackouts.py): which alerts a blackout covers, its status and
remaining time, Alerta's priority, the in-memory set of an ingest worker, and what a blackout does to an alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.blackouts import (
    ACTIVE,
    EXPIRED,
    MARK,
    PENDING,
    SUPPRESS,
    Blackouts,
    Window,
    covers,
    decide,
    priority,
    remaining,
    status,
)
from shared.settings import Settings, SettingsError

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def window(ident: str = "b1", /, **fields: Any) -> Window:
    doc: dict[str, Any] = {"_id": ident, "environment": "Production", "startTime": NOW - HOUR,
                           "endTime": NOW + HOUR, **fields}
    return Window.of(doc)


def alert(**fields: Any) -> dict[str, Any]:
    return {"environment": "Production", "resource": "web01", "event": "HttpError", "group": "Web",
            "origin": "nagios/h1", "service": ["Web", "Shop"], "tags": ["eu", "db"], "severity": "major", **fields}


def test_an_environment_only_blackout_covers_every_alert_of_its_environment() -> None:
    assert covers(window(), alert(), NOW)
    assert not covers(window(), alert(environment="Development"), NOW)


@pytest.mark.parametrize("name", ["resource", "event", "group", "origin"])
def test_a_named_attribute_must_be_equal(name: str) -> None:
    assert covers(window(**{name: alert()[name]}), alert(), NOW)
    assert not covers(window(**{name: "other"}), alert(), NOW)
    assert not covers(window(**{name: alert()[name]}), alert(**{name: None}), NOW)


@pytest.mark.parametrize("name", ["service", "tags"])
def test_services_and_tags_of_the_blackout_must_all_be_the_alerts(name: str) -> None:
    present: list[str] = alert()[name]
    nothing: list[str] = []
    assert covers(window(**{name: present[:1]}), alert(), NOW)
    assert covers(window(**{name: present}), alert(), NOW)  # a subset: all of them
    assert not covers(window(**{name: [present[0], "missing"]}), alert(), NOW)
    assert covers(window(**{name: nothing}), alert(), NOW)  # an empty list names nothing
    assert not covers(window(**{name: present[:1]}), alert(**{name: nothing}), NOW)


def test_every_named_attribute_must_hold() -> None:
    full = window(resource="web01", event="HttpError", group="Web", origin="nagios/h1", service=["Web"],
                  tags=["eu"])
    assert covers(full, alert(), NOW)
    assert not covers(full, alert(tags=["db"]), NOW)


def test_the_window_is_start_inclusive_end_exclusive_at_the_alerts_create_time() -> None:
    blackout = window(startTime=NOW, endTime=NOW + HOUR)
    assert covers(blackout, alert(), NOW)
    assert not covers(blackout, alert(), NOW - timedelta(milliseconds=1))
    assert not covers(blackout, alert(), NOW + HOUR)
    assert covers(blackout, alert(), NOW + HOUR - timedelta(milliseconds=1))


def test_status_and_remaining_are_computed_from_the_clock() -> None:
    start, end = NOW, NOW + HOUR
    assert (status(start, end, NOW - HOUR), remaining(start, end, NOW - HOUR)) == (PENDING, 3600)
    assert (status(start, end, NOW + HOUR / 4), remaining(start, end, NOW + HOUR / 4)) == (ACTIVE, 2700)
    assert (status(start, end, end), remaining(start, end, end)) == (EXPIRED, 0)
    assert (status(start, end, end + HOUR), remaining(start, end, end + HOUR)) == (EXPIRED, 0)


@pytest.mark.parametrize(("fields", "expected"), [
    ({}, 0), ({"resource": "r"}, 2), ({"service": ["s"]}, 3), ({"event": "e"}, 4), ({"group": "g"}, 5),
    ({"resource": "r", "event": "e"}, 6), ({"tags": ["t"]}, 7), ({"origin": "o"}, 8),
    ({"resource": "r", "event": "e", "service": ["s"], "origin": "o"}, 8), ({"resource": "r", "service": ["s"]}, 2),
])
def test_priority_is_alertas(fields: dict[str, Any], expected: int) -> None:
    assert priority({"environment": "Production", **fields}) == expected


def test_the_set_finds_by_environment_and_follows_changes() -> None:
    blackouts = Blackouts([window("a", resource="web01"), window("b", environment="Development")])
    assert len(blackouts) == 2
    found = blackouts.find(alert(), NOW)
    assert found is not None and found.id == "a"
    blackouts.put(window("a", resource="web02"))  # changed: replaces, never adds
    assert len(blackouts) == 2 and blackouts.find(alert(), NOW) is None
    blackouts.put(window("a", environment="Development", resource="web01"))  # moved to another environment
    assert blackouts.find(alert(), NOW) is None
    hit = blackouts.find(alert(environment="Development"), NOW)
    assert hit is not None and hit.id in ("a", "b")
    blackouts.drop("b")
    blackouts.drop("b")  # dropping what is gone is nothing
    blackouts.drop("a")
    assert len(blackouts) == 0 and blackouts.by_environment == {}


def test_decide_suppresses_or_marks_and_lets_accepted_severities_through() -> None:
    blackouts = Blackouts([window("a", resource="web01")])
    assert decide(blackouts, alert(), NOW, notification=False) == (SUPPRESS, blackouts.by_id["a"])
    assert decide(blackouts, alert(), NOW, notification=True) == (MARK, blackouts.by_id["a"])
    assert decide(blackouts, alert(resource="web02"), NOW, notification=False) is None
    accepted = ("normal", "ok")
    assert decide(blackouts, alert(severity="normal"), NOW, notification=False, accepted=accepted) is None
    assert decide(blackouts, alert(severity="major"), NOW, notification=False, accepted=accepted) is not None
    # Alerta checks BLACKOUT_ACCEPT only while alerts are suppressed.
    assert decide(blackouts, alert(severity="normal"), NOW, notification=True, accepted=accepted) is not None


@pytest.mark.parametrize(("env", "word"), [
    ({"BLACKOUT_ACCEPT": "normal,bogus"}, "BLACKOUT_ACCEPT"),
    ({"NOTIFICATION_BLACKOUT": "maybe"}, "NOTIFICATION_BLACKOUT"),
    ({"BLACKOUT_DURATION": "0"}, "BLACKOUT_DURATION"),
    ({"BLACKOUT_DURATION": "1h"}, "BLACKOUT_DURATION"),
])
def test_bad_blackout_settings_stop_start_up_naming_the_variable(env: dict[str, str], word: str) -> None:
    with pytest.raises(SettingsError, match=word):
        Settings.from_env(env)


def test_blackout_settings() -> None:
    rules = Settings.from_env({}).rules
    assert (rules.notification_blackout, rules.blackout_duration, rules.blackout_accept) == (False, 3600, ())
    rules = Settings.from_env({"NOTIFICATION_BLACKOUT": "true", "BLACKOUT_DURATION": "600",
                               "BLACKOUT_ACCEPT": "normal, ok"}).rules
    assert (rules.notification_blackout, rules.blackout_duration, rules.blackout_accept) == (True, 600, ("normal",
                                                                                                        "ok"))
