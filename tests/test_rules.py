"""The pure reception rules: severity trend, status transitions, duplicate/correlate/create, history cap."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared import commands, limits, rules
from shared.settings import Settings, SettingsError
from shared.severity import next_status, trend

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def received(event: str = "NodeDown", severity: str = "major", **extra: Any) -> dict[str, Any]:
    alert = {
        "id": extra.pop("id", f"id-{event}-{severity}"), "resource": "R", "event": event,
        "environment": "Production", "severity": severity, "correlate": [], "status": None,
        "service": ["Net"], "group": "Misc", "value": "n/a", "text": "", "tags": [], "attributes": {},
        "origin": "test", "type": "exceptionAlert", "createTime": NOW, "timeout": 86400, "rawData": "",
    }
    alert.update(extra)
    return alert


def apply(docs: list[dict[str, Any]], alert: dict[str, Any], limit: int = 100) -> tuple[str, dict[str, Any]]:
    outcome, doc = rules.receive(docs, alert, NOW, limit)
    docs[:] = [d for d in docs if d["_id"] != doc["_id"]] + [doc]
    return outcome, doc


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [("major", "critical", "moreSevere"), ("critical", "major", "lessSevere"), ("ok", "normal", "noChange"),
     ("indeterminate", "informational", "lessSevere"), ("bogus", "major", "noChange")],
)
def test_trend(previous: str, current: str, expected: str) -> None:
    assert trend(previous, current) == expected


@pytest.mark.parametrize(
    ("severity", "prev_sev", "incoming", "current", "previous", "expected"),
    [
        ("major", None, None, None, None, "open"),  # new alert
        ("normal", None, None, None, None, "closed"),  # new normal alert
        ("cleared", "major", None, "open", None, "closed"),  # normal closes
        ("major", "normal", None, "closed", "open", "open"),  # more severe re-opens a closed alert
        ("major", "normal", None, "closed", "shelved", "shelved"),  # ... back to shelved if it was
        ("major", None, None, "ack", "open", "ack"),  # a duplicate keeps ack
        ("critical", "major", None, "ack", "open", "open"),  # ack re-opened by a real severity increase
        ("minor", "major", None, "ack", "open", "ack"),  # less severe keeps ack
        ("major", None, None, "expired", "open", "open"),  # expired re-opens
        ("major", None, "ack", "open", None, "ack"),  # an explicit status wins ...
        ("ok", None, "ack", "open", None, "closed"),  # ... except that normal always closes
        ("major", None, None, "blackout", "open", "open"),
    ],
)
def test_next_status(severity: str, prev_sev: str | None, incoming: str | None, current: str | None,
                     previous: str | None, expected: str) -> None:
    assert next_status(severity=severity, previous_severity=prev_sev, incoming_status=incoming,
                       current_status=current, previous_status=previous) == expected


def test_alerta_worked_sequence() -> None:
    """The de-dup/correlation sequence of Alerta's own test suite, with today's previous severity."""
    docs: list[dict[str, Any]] = []
    correlate = ["node_down", "node_marginal", "node_up"]
    steps = [
        ("node_marginal", "major", "created", "open", 0, "indeterminate", "moreSevere"),
        ("node_marginal", "major", "duplicate", "open", 1, "indeterminate", "moreSevere"),
        ("node_marginal", "critical", "correlated", "open", 0, "major", "moreSevere"),
        ("node_marginal", "critical", "duplicate", "open", 1, "major", "moreSevere"),
        ("node_down", "critical", "correlated", "open", 0, "critical", "noChange"),
        ("node_marginal", "major", "correlated", "open", 0, "critical", "lessSevere"),
        ("node_up", "normal", "correlated", "closed", 0, "major", "lessSevere"),
        ("node_down", "warning", "correlated", "open", 0, "normal", "moreSevere"),
    ]
    first_id = None
    for n, (event, severity, outcome, status, count, previous, trend_) in enumerate(steps):
        got, doc = apply(docs, received(event, severity, id=f"r{n}", correlate=correlate))
        first_id = first_id or doc["_id"]
        assert (got, doc["status"], doc["duplicateCount"], doc["previousSeverity"], doc["trendIndication"]) == (
            outcome, status, count, previous, trend_), f"step {n + 1}"
        assert doc["_id"] == first_id and doc["lastReceiveId"] == f"r{n}"
    assert len(docs) == 1


def test_duplicate_merges_tags_and_attributes_and_keeps_severity_history() -> None:
    docs: list[dict[str, Any]] = []
    apply(docs, received(tags=["a"], attributes={"x": 1}))
    _, doc = apply(docs, received(id="second", tags=["a", "b"], attributes={"y": 2}, value="changed"))
    assert doc["tags"] == ["a", "b"] and doc["attributes"] == {"x": 1, "y": 2}
    assert doc["repeat"] is True and doc["value"] == "changed"
    assert [h["type"] for h in doc["history"]] == ["new", "value"]


def test_correlation_prefers_the_same_event_over_the_correlate_list() -> None:
    docs: list[dict[str, Any]] = []
    apply(docs, received("A", "major", id="a", correlate=["A", "B"]))
    apply(docs, received("B", "major", id="b-new", correlate=[]))  # correlated into A (renamed to B)
    assert len(docs) == 1 and docs[0]["event"] == "B"
    apply(docs, received("C", "minor", id="c"))
    outcome, doc = apply(docs, received("C", "major", id="c2"))
    assert outcome == "correlated" and doc["_id"] == "c"


def test_history_is_capped_to_the_newest_entries() -> None:
    docs: list[dict[str, Any]] = []
    for n in range(12):
        apply(docs, received(severity="major" if n % 2 else "minor", id=f"x{n}"), limit=5)
    history = docs[0]["history"]
    assert len(history) == 5 and history[-1]["id"] == "x11" and history[0]["id"] == "x7"


def test_policy_messages() -> None:
    policy = rules.Policy(("Production", "Dev.*"), origin_blacklist=("foo/bar$",))
    policy.check(received(environment="Development"))
    with pytest.raises(rules.Rejected, match=r"\[POLICY\] Alert environment does not match one of"):
        policy.check(received(environment="Staging"))
    with pytest.raises(rules.Rejected, match="origin 'foo/bar' has been blacklisted"):
        policy.check(received(origin="foo/bar"))
    with pytest.raises(rules.Rejected, match="must define a service"):
        policy.check(received(service=[]))


def test_settings_name_the_bad_variable() -> None:
    assert Settings.from_env({}).gateway.port == 8080
    for env, name in [({"PORT": "x"}, "PORT"), ({"AUTH_REQUIRED": "maybe"}, "AUTH_REQUIRED"),
                      ({"AMQP_URL": "http://x"}, "AMQP_URL"), ({"HISTORY_LIMIT": "0"}, "HISTORY_LIMIT"),
                      ({"ORIGIN_BLACKLIST": "("}, "ORIGIN_BLACKLIST"), ({"BROKER_PREFIX": "a b"}, "BROKER_PREFIX")]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env(env)


# -- bounded merges and history (shared/limits.py) -------------------------------------------------------------

def test_big_tag_merge_keeps_order_and_the_newest_tags() -> None:
    """15,000 tags onto 15,000 took 3.9 s when each tag was looked up in a list; now linear and capped."""
    doc = rules.create(received(id="t0", tags=[f"old-{i}" for i in range(15_000)]), NOW, 100)
    new = [f"new-{i}" for i in range(15_000)]
    merged = rules.deduplicate(doc, received(id="t1", tags=new), NOW, 100)["tags"]
    assert merged == new[-limits.TAG_ITEMS:]  # the incoming list alone is over the cap: its newest
    tagged = commands.tag(doc, {"tags": new})["tags"]
    assert tagged == merged


def test_tag_merge_appends_new_tags_after_existing_ones_once() -> None:
    assert limits.merge_tags(["a", "b"], ["b", "c", "c", "a", "d"]) == ["a", "b", "c", "d"]
    current = [f"t{i}" for i in range(limits.TAG_ITEMS)]
    # Over the cap the oldest tags go first, but never one the incoming alert names again.
    merged = limits.merge_tags(current, ["t0", "x", "y"])
    assert len(merged) == limits.TAG_ITEMS and merged[0] == "t0" and merged[-2:] == ["x", "y"]
    assert "t1" not in merged and "t2" not in merged and "t3" in merged


def test_attribute_merge_is_capped_by_keys_and_bytes_keeping_the_incoming_ones() -> None:
    assert limits.merge_attributes({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {"a": 1, "b": 3, "c": 4}
    many = {f"k{i}": i for i in range(limits.ATTRIBUTE_KEYS)}
    merged = limits.merge_attributes(many, {"k5": "again", "new": 1})
    assert len(merged) == limits.ATTRIBUTE_KEYS and "k0" not in merged and merged["k5"] == "again"
    assert list(merged)[-1] == "new"
    big = "x" * (100 * 1024)
    merged = {}
    for n in range(10):
        merged = limits.merge_attributes(merged, {f"blob{n}": big, "n": n})
    assert limits.encoded_bytes(merged) <= limits.ATTRIBUTES_BYTES
    assert list(merged) == ["n", "blob8", "blob9"] and merged["n"] == 9  # "n" keeps its place


def test_history_is_bounded_by_bytes_newest_kept() -> None:
    text = "x" * limits.TEXT_CHARS
    docs: list[dict[str, Any]] = []
    for n in range(60):
        apply(docs, received(id=f"h{n}", value=str(n), text=text))
    history = docs[0]["history"]
    assert sum(limits.entry_bytes(entry) for entry in history) <= limits.HISTORY_BYTES
    assert history[-1]["id"] == "h59" and 20 < len(history) < 60
    # An entry that is over the budget on its own is still kept: the newest one always is.
    huge = {"text": "y" * (limits.HISTORY_BYTES + 1), "value": "v", "event": "E", "user": None}
    assert limits.bounded_history([*history, huge], 100) == [huge]


def test_history_of_a_document_stored_before_the_bounds_is_trimmed_on_its_next_write() -> None:
    """16 posts of ~950 KB made a 16 MB alert that no write could change any more, not even a status change."""
    doc = rules.create(received(id="legacy"), NOW, 100)
    doc["history"] = [{**doc["history"][0], "id": f"old{n}", "text": "z" * 950_000} for n in range(16)]
    new = commands.apply(doc, {"op": "status", "status": "ack", "text": "looking", "user": "ops"}, NOW, 100)
    assert sum(limits.entry_bytes(entry) for entry in new["history"]) <= limits.HISTORY_BYTES
    assert new["history"][-1]["status"] == "ack" and new["status"] == "ack"


def test_history_user_is_bounded_whatever_a_message_header_carried() -> None:
    entry = rules.history_entry(received(user="u" * 10_000), "new", "open", "", NOW)
    assert entry["user"] == "u" * limits.USER_CHARS
    assert rules.history_entry(received(user={"not": "a name"}), "new", "open", "", NOW)["user"] == "{'not': 'a name'}"
