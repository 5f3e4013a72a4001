"""The pure part of the materialised counters: the filter matcher on counter keys, the updates a change of
alerts makes, and how recovery decides whether a journalled write landed."""

from __future__ import annotations

import json
from typing import Any

from services.query.filters import parse_alert_query
from shared.store.counter_keys import (
    EVENT_FIELDS,
    SEVERITY_FIELDS,
    TOP_RESOURCES,
    Changes,
    Footprint,
    JournalEntry,
    counter_id,
    entry_changes,
    escape_field,
    event_rows,
    flatten,
    key_filter,
    landed,
    severity_rows,
    unescape_field,
)

KEYS = [
    {"environment": env, "status": status, "severity": severity}
    for env in ("Production", "Development", "QA")
    for status in ("open", "ack", "closed", "expired")
    for severity in ("critical", "major", "minor", "normal")
]


def matching(params: list[tuple[str, str]], *, visible: bool = False) -> set[tuple[str, str, str]]:
    query = parse_alert_query(params)
    predicate = key_filter(query.visible() if visible else query.filter, SEVERITY_FIELDS)
    assert predicate is not None, query.filter
    return {(k["environment"], k["status"], k["severity"]) for k in KEYS if predicate(k)}


def every(env: str | None = None, status: str | None = None, severity: str | None = None,
          *, not_status: tuple[str, ...] = ()) -> set[tuple[str, str, str]]:
    return {(k["environment"], k["status"], k["severity"]) for k in KEYS
            if (env is None or k["environment"] == env) and (status is None or k["status"] == status)
            and (severity is None or k["severity"] == severity) and k["status"] not in not_status}


def test_equality_and_repeats_match_like_the_database() -> None:
    assert matching([("environment", "Production")]) == every("Production")
    assert matching([("status", "open"), ("status", "ack")]) == every(status="open") | every(status="ack")
    assert matching([("environment", "QA"), ("severity", "major")]) == every("QA", severity="major")
    assert matching([]) == every()


def test_negations_and_the_hidden_expired_alerts() -> None:
    assert matching([("status!", "open")]) == every(not_status=("open",))
    assert matching([("status!", "open"), ("status!", "ack")]) == every(not_status=("open", "ack"))
    assert matching([("environment", "Production")], visible=True) == every("Production", not_status=("expired",))


def test_regular_expressions_are_case_insensitive_and_unanchored() -> None:
    assert matching([("environment", "~prod")]) == every("Production")
    assert matching([("environment!", "~^(prod|qa)")]) == every("Development")
    assert matching([("severity", "~or$")]) == every(severity="major") | every(severity="minor")
    # A plain value among regexes is exact (escaped, anchored).
    assert matching([("environment", "~^dev"), ("environment", "QA")]) == every("Development") | every("QA")


def test_q_with_and_or_and_in() -> None:
    q = {"$or": [{"environment": "QA"}, {"severity": {"$in": ["critical"]}, "status": {"$nin": ["closed"]}}]}
    expected = every("QA") | (every(severity="critical") - every(status="closed"))
    assert matching([("q", json.dumps(q))]) == expected
    both = matching([("status", "open"), ("q", json.dumps({"status": {"$ne": "ack"}}))])
    assert both == every(status="open")  # combined as $and (one field twice)
    assert matching([("q", json.dumps({"severity": {"$regex": "^MAJ"}}))]) == set()  # no i option: case counts


def test_severity_code_follows_from_the_severity() -> None:
    predicate = key_filter({"severityCode": {"$in": [1, 3]}}, SEVERITY_FIELDS)
    assert predicate is not None
    assert {k["severity"] for k in KEYS if predicate(k)} == {"critical", "minor"}
    assert key_filter({"severityCode": True}, SEVERITY_FIELDS) is None  # True is not 1 in MongoDB


def test_other_fields_and_operators_fall_back_to_aggregation() -> None:
    for params in ([("resource", "web01")], [("tags", "x")], [("from-date", "2024-01-01T00:00:00Z")],
                   [("id", "abcdef12")], [("q", json.dumps({"duplicateCount": {"$gt": 1}}))],
                   [("q", json.dumps({"status": {"$gt": "a"}}))], [("q", json.dumps({"status": None}))]):
        assert key_filter(parse_alert_query(params).filter, SEVERITY_FIELDS) is None, params
    assert key_filter({"severity": "major"}, EVENT_FIELDS) is None  # the event counters have no severity
    assert key_filter({"status": {"$exists": True}}, EVENT_FIELDS) is not None


def fp(ident: str = "a1", status: str = "open", severity: str = "major", event: str = "NodeDown",
       services: tuple[str, ...] = ("web",), duplicates: int = 0) -> Footprint:
    return Footprint(ident, "host-" + ident, "Production", status, severity, event, services, duplicates)


A_ID = counter_id("A", "Production")


def b_id(status: str = "open") -> str:
    return counter_id("B", "Production", status)


def r_id(status: str = "open") -> str:
    return counter_id("R", "Production", status, "NodeDown")


def update_of(changes: Changes, ident: str) -> dict[str, Any]:
    found = [update for each, update, upsert in changes.updates() if each == ident and upsert]
    assert len(found) == 1, changes.updates()
    return found[0]


def test_a_new_alert_counts_once_per_family() -> None:
    changes = Changes().change(None, fp(services=("web", "db.main"), duplicates=3))
    assert update_of(changes, A_ID) == {"$inc": {"n.open.major": 1},
                                        "$setOnInsert": {"kind": "A", "environment": "Production"}}
    assert update_of(changes, b_id())["$inc"] == {"e.NodeDown.n": 2, "e.NodeDown.d": 6}  # weighted by 2 services
    detail = update_of(changes, r_id())
    assert detail["$inc"] == {"s.web": 1, "s.db%2Emain": 1}
    assert detail["$push"]["r"] == {"$each": [["a1", "host-a1"]], "$slice": -TOP_RESOURCES}
    assert detail["$setOnInsert"] == {"kind": "R", "environment": "Production", "status": "open", "event": "NodeDown"}


def test_a_duplicate_changes_only_the_duplicate_sum() -> None:
    updates = Changes().change(fp(duplicates=1), fp(duplicates=2)).updates()
    assert updates == [(b_id(), {"$inc": {"e.NodeDown.d": 1}, "$setOnInsert": {
        "kind": "B", "environment": "Production", "status": "open"}}, True)]


def test_a_status_change_moves_the_alert_and_its_sample_entry() -> None:
    changes = Changes().change(fp(status="open"), fp(status="ack"))
    assert update_of(changes, A_ID)["$inc"] == {"n.open.major": -1, "n.ack.major": 1}
    assert update_of(changes, b_id("ack"))["$inc"] == {"e.NodeDown.n": 1}
    leave = [u for ident, u, upsert in changes.updates() if "$pull" in u]
    assert leave == [{"$pull": {"r": {"$in": [["a1", "host-a1"]]}}}]
    assert update_of(changes, r_id("ack"))["$push"]["r"]["$each"] == [["a1", "host-a1"]]


def test_an_alert_without_services_counts_only_in_the_severity_family() -> None:
    changes = Changes().change(None, fp(services=()))
    assert [ident for ident, _, _ in changes.updates()] == [A_ID]
    assert Changes().change(fp(), fp()).empty()


def test_the_sample_keeps_the_last_entries_only() -> None:
    changes = Changes()
    for n in range(TOP_RESOURCES + 5):
        changes.add(fp(f"a{n}"), +1)
    each = update_of(changes, r_id())["$push"]["r"]["$each"]
    assert len(each) == TOP_RESOURCES and each[0] == ["a5", "host-a5"]


def test_coarse_counters_read_back_as_keys() -> None:
    assert severity_rows({"environment": "Production", "n": {"open": {"minor": 1}, "ack": {"major": 2}}}) == [
        {"environment": "Production", "status": "open", "severity": "minor", "n": 1},
        {"environment": "Production", "status": "ack", "severity": "major", "n": 2}]
    b = {"environment": "Production", "status": "ack", "e": {"Disk%2EFull": {"n": 1, "d": 0}}}
    assert event_rows(b) == [{"environment": "Production", "status": "ack", "event": "Disk.Full", "n": 1, "d": 0}]
    changes = Changes().change(None, fp(status="ack", event="Disk.Full", duplicates=0))
    assert update_of(changes, b_id("ack"))["$inc"] == {"e.Disk%2EFull.n": 1}
    assert flatten({"n": {"open": {"minor": 1, "major": 0}}, "s": {"web": 2}}) == {"n.open.minor": 1, "s.web": 2}


def test_service_names_are_escaped_as_field_names() -> None:
    for name in ("web.frontend", "$db", "100%", "", "a\x00b", "%2E"):
        assert unescape_field(escape_field(name)) == name
        assert "." not in escape_field(name) and not escape_field(name).startswith("$") and escape_field(name)


def test_undoing_entries_reverses_their_updates() -> None:
    entry = JournalEntry("a1", ("r1",), (), fp(status="open"), fp(status="ack", duplicates=2))
    assert JournalEntry.load(entry.dump()) == entry
    forward = {ident: u["$inc"] for ident, u, _ in entry_changes([entry]).updates() if "$inc" in u}
    backward = {ident: u["$inc"] for ident, u, _ in entry_changes([entry], undo=True).updates() if "$inc" in u}
    assert backward == {ident: {name: -n for name, n in inc.items()} for ident, inc in forward.items()}
    pulled = [u["$pull"] for _, u, _ in entry_changes([entry], undo=True).updates() if "$pull" in u]
    assert pulled == [{"r": {"$in": [["a1", "host-a1"]]}}]  # out of the ack sample again


def test_undoing_never_puts_an_alert_back_into_a_sample() -> None:
    moved = JournalEntry("a1", ("r1",), (), fp(status="open"), fp(status="ack"))
    updates = entry_changes([moved], undo=True).updates()
    assert not any("$push" in update for _, update, _ in updates)  # the alert may have moved on meanwhile
    new = JournalEntry("a1", ("a1",), (), None, fp())
    assert [u["$pull"] for _, u, _ in entry_changes([new], undo=True).updates() if "$pull" in u] == [
        {"r": {"$in": [["a1", "host-a1"]]}}]


def test_landed_by_receive_id_and_by_absence() -> None:
    update = JournalEntry("a1", ("r1", "r2"), (), fp(), fp(status="ack"))
    assert landed(update, {"_id": "a1", "_rids": ["r0", "r1", "r2"]}, {}) is True
    assert landed(update, {"_id": "a1", "_rids": ["r0"]}, {}) is False
    assert landed(update, None, {}) is True  # deleted since, by a message queued behind this one
    delete = JournalEntry("a1", ("r3",), (), fp(), None)
    assert landed(delete, None, {}) is True
    assert landed(delete, {"_id": "a1", "_rids": ["r0"]}, {}) is False
    create = JournalEntry("a1", ("a1",), (), None, fp())
    assert landed(create, None, {}) is None  # not created yet, or created and deleted since: wait


def test_a_redelivery_marker_says_the_write_was_applied_again() -> None:
    first = JournalEntry("a1", ("r1",), (), fp(), fp(status="ack"))
    # The redelivered message was applied again (its receive id is in the alert now): the first did not land.
    assert landed(first, {"_id": "a1", "_rids": ["r1"]}, {"r1": 1}) is False
    again = JournalEntry("a1", ("r1",), ("r1",), fp(), fp(status="ack"))
    assert landed(again, {"_id": "a1", "_rids": ["r1"]}, {"r1": 1}) is True  # its own marker
    assert landed(again, {"_id": "a1", "_rids": ["r1"]}, {"r1": 2}) is False  # applied a third time
