"""Unit tests of the pure webhook mapping (services/hooks/payloads.py, the filter in shared/webhooks.py) and the
PagerDuty Events API mapping (services/hooks/events_api.py): no broker, no store."""

from __future__ import annotations

import json

import pytest

from services.hooks.events_api import event_action, event_body, is_retryable, retry_delay_ms
from services.hooks.payloads import alert_severity, alertmanager_alerts, pagerduty_updates, sign, verify_signature
from shared.commands import set_status
from shared.schemas import BadInput
from shared.settings import Settings, SettingsError
from shared.store import now_ms
from shared.webhooks import matches, parse_filter

from .support.webhooks import alertmanager, am_alert, pd_v1, pd_v1_message, pd_v3

KEY = "17a02d0d-370d-4add-8e53-132199614121"
LINK = '<a href="https://webdemo.pagerduty.com/incidents/PRORDTY">#2126</a>'


@pytest.mark.parametrize(("kind", "status", "text"), [
    ("incident.trigger", "open", f"Incident {LINK} assigned to Laura Haley"),
    ("incident.acknowledge", "ack", f"Incident {LINK} acknowledged by Laura Haley"),
    ("incident.unacknowledge", "open", f"Incident {LINK} unacknowledged due to timeout"),
    ("incident.resolve", "closed", f"Incident {LINK} resolved by n/a"),
    ("incident.assign", "assign", f"Incident {LINK} manually assigned to Laura Haley"),
    ("incident.escalate", "open", f"Incident {LINK} escalated to Laura Haley"),
    ("incident.delegate", "open", f"Incident {LINK} reassigned due to escalation to Laura Haley"),
    ("incident.custom", "unknown", "incident.custom"),
])
def test_pagerduty_v1_types_map_as_alerta_v3(kind: str, status: str, text: str) -> None:
    [update] = pagerduty_updates(pd_v1(kind, KEY))
    assert (update.incident_key, update.status, update.text, update.tag) == (KEY, status, text, "incident=#2126")


def test_pagerduty_v1_resolve_names_the_resolver_and_keeps_message_order() -> None:
    body = {"messages": [pd_v1_message("incident.acknowledge", KEY),
                         pd_v1_message("incident.resolve", KEY, assigned=None, resolved="Wiley Jacobson")]}
    first, second = pagerduty_updates(body)
    assert (first.status, second.status) == ("ack", "closed")
    assert second.text.endswith("resolved by Wiley Jacobson")


@pytest.mark.parametrize(("event_type", "status", "text"), [
    ("incident.triggered", "open", "assigned to User 123"),
    ("incident.acknowledged", "ack", "acknowledged by Tenex Engineer"),
    ("incident.unacknowledged", "open", "unacknowledged due to timeout"),
    ("incident.resolved", "closed", "resolved by Tenex Engineer"),
    ("incident.reassigned", "assign", "manually assigned to User 123"),
    ("incident.escalated", "open", "escalated to User 123"),
    ("incident.delegated", "open", "reassigned due to escalation to User 123"),
    ("incident.reopened", "open", "reopened by Tenex Engineer"),
])
def test_pagerduty_v3_event_types_map_to_statuses(event_type: str, status: str, text: str) -> None:
    [update] = pagerduty_updates(pd_v3(event_type, KEY))
    link = '<a href="https://acme.pagerduty.com/incidents/PGR0VU2">#2</a>'
    assert (update.incident_key, update.status, update.tag) == (KEY, status, "incident=#2")
    assert update.text == f"Incident {link} {text}"


@pytest.mark.parametrize("event_type", ["incident.annotated", "incident.priority_updated", "pagey.ping",
                                        "incident.responder.added", "service.updated"])
def test_pagerduty_v3_events_without_a_status_are_ignored(event_type: str) -> None:
    assert pagerduty_updates(pd_v3(event_type, KEY)) == []


def test_pagerduty_names_are_escaped_in_the_html_history_text() -> None:
    [update] = pagerduty_updates(pd_v3("incident.acknowledged", KEY, agent="<script>x</script>"))
    assert "<script>" not in update.text and "&lt;script&gt;" in update.text


@pytest.mark.parametrize(("body", "field"), [
    ([], "body"),
    ({"nothing": 1}, "messages"),
    ({"messages": []}, "messages"),
    ({"messages": "x"}, "messages"),
    ({"messages": [42]}, "messages[0]"),
    ({"messages": [{"type": "incident.trigger"}]}, "messages[0].data"),
    ({"messages": [{"type": "incident.trigger", "data": {"incident": {"incident_number": 1}}}]},
     "messages[0].data.incident.incident_key"),
    ({"messages": [{"data": {"incident": {"incident_key": KEY}}}]}, "messages[0].type"),
    ({"event": "x"}, "event"),
    ({"event": {"data": {}}}, "event.event_type"),
    ({"event": {"event_type": "incident.resolved"}}, "event.data"),
    ({"event": {"event_type": "incident.resolved", "data": {"number": 3}}}, "event.data.incident_key"),
])
def test_malformed_pagerduty_bodies_name_the_field(body: object, field: str) -> None:
    with pytest.raises(BadInput) as caught:
        pagerduty_updates(body)
    assert field in caught.value.message or field in json.dumps(caught.value.errors)


def test_signature_matches_any_of_several_and_only_the_raw_body() -> None:
    body = json.dumps(pd_v3("incident.resolved", KEY)).encode()
    good = sign("s3cret", body)
    assert good.startswith("v1=") and len(good) == 3 + 64
    assert verify_signature("s3cret", body, good)
    assert verify_signature("s3cret", body, f"v1={'0' * 64},{good}")  # during a secret rotation
    assert not verify_signature("other", body, good)
    assert not verify_signature("s3cret", body + b" ", good)
    assert not verify_signature("s3cret", body, "")


# -- Alertmanager ------------------------------------------------------------------------------------

def test_firing_alertmanager_alert_maps_labels_and_annotations() -> None:
    [(wire, alert)] = alertmanager_alerts(alertmanager(am_alert(labels={"team": "ops", "service": "web,api"})))
    assert (alert["resource"], alert["event"], alert["environment"], alert["severity"]) == (
        "web01:9100", "InstanceDown", "Production", "critical")
    assert (alert["service"], alert["group"], alert["origin"], alert["type"]) == (
        ["web", "api"], "Prometheus", "prometheus/alertmanager", "prometheusAlert")
    assert alert["text"] == "web01:9100 has been down for 5 minutes"
    assert alert["tags"] == ["job=node", "team=ops"]
    assert alert["attributes"]["summary"] == "web01 is down"
    assert alert["attributes"]["startsAt"] == "2024-05-01T10:00:00.123Z"
    assert alert["attributes"]["externalUrl"] == "http://alertmanager:9093"
    assert "endsAt" not in alert["attributes"]  # Go's zero time means "not set"
    assert alert["createTime"].isoformat().startswith("2024-05-01T10:00:00.123")
    assert wire["rawData"]["fingerprint"] == "c3b1b1f5a4d1e2f3"


def test_resolved_alertmanager_alert_is_normal_and_dated_by_its_end() -> None:
    [(_, alert)] = alertmanager_alerts(alertmanager(
        am_alert("resolved", ends="2024-05-01T10:05:00Z"), status="resolved"))
    assert alert["severity"] == "normal"
    assert alert["createTime"].isoformat().startswith("2024-05-01T10:05:00")


def test_alertmanager_defaults() -> None:
    bare = {"status": "firing", "labels": {"alertname": "Watchdog"}, "annotations": {}}
    [(_, alert)] = alertmanager_alerts(alertmanager(bare))
    assert (alert["resource"], alert["severity"], alert["service"], alert["environment"]) == (
        "n/a", "warning", ["Prometheus"], "Production")
    assert alert["text"] == "WARNING: n/a is Watchdog"
    [(_, alert)] = alertmanager_alerts(alertmanager(am_alert(labels={"service": "", "exported_instance": "db1"})))
    assert (alert["service"], alert["resource"]) == (["node"], "db1")  # job, and the series' own instance
    assert "instance=web01:9100" in alert["tags"]


@pytest.mark.parametrize(("label", "severity"), [
    ("critical", "critical"), ("Major", "major"), ("page", "critical"), ("error", "major"), ("warn", "warning"),
    ("info", "informational"), ("", "warning"), ("P1", None),
])
def test_alertmanager_severity_names(label: str, severity: str | None) -> None:
    assert alert_severity(label) == severity


def test_unknown_severity_label_warns_and_stays_visible() -> None:
    [(_, alert)] = alertmanager_alerts(alertmanager(am_alert(labels={"severity": "P1"})))
    assert alert["severity"] == "warning" and "severity=P1" in alert["tags"]


@pytest.mark.parametrize(("body", "field"), [
    ("nope", "body"),
    ({"version": "3", "alerts": [am_alert()]}, "version"),
    ({"version": "4"}, "alerts"),
    ({"version": "4", "alerts": {}}, "alerts"),
    (alertmanager(am_alert(), {"labels": {"instance": "x"}}), "alerts[1].labels.alertname"),
    (alertmanager(am_alert(status="pending")), "alerts[0].status"),
    (alertmanager(am_alert(starts="yesterday")), "alerts[0].startsAt"),
    (alertmanager(am_alert(labels={"severity": 3})), "alerts[0].labels"),  # type: ignore[dict-item]
    (alertmanager("x"), "alerts[0]"),  # type: ignore[arg-type]
    (alertmanager(am_alert(labels={"alertname": "x" * 2000})), "alerts[0]"),
])
def test_malformed_alertmanager_bodies_name_the_alert(body: object, field: str) -> None:
    with pytest.raises(BadInput) as caught:
        alertmanager_alerts(body)
    assert field in caught.value.message


def test_an_alertmanager_body_without_alerts_is_nothing_to_do() -> None:
    assert alertmanager_alerts({"version": "4", "alerts": []}) == []  # answered 201, as Alerta does


# -- the PagerDuty filter and the Events API mapping -----------------------------------------------------

ALERT = {"id": "a1", "environment": "Production", "severity": "critical", "status": "open", "resource": "web01",
         "event": "Down", "service": ["web", "api"], "tags": ["team=ops"], "attributes": {"region": "eu"},
         "text": "web01 is down", "group": "Prometheus", "lastReceiveTime": "2024-05-01T10:00:00.000Z"}


def test_filter_matches_fields_lists_and_attributes() -> None:
    clauses = parse_filter("environment=Production, severity=critical|major, service=api, attributes.region=eu")
    assert matches(clauses, ALERT)
    assert not matches(clauses, {**ALERT, "severity": "minor"})
    assert not matches(clauses, {**ALERT, "service": ["db"]})
    assert not matches(clauses, {**ALERT, "attributes": {}})
    assert matches((), ALERT)


def test_filter_ignores_severity_and_status_for_acknowledge_and_resolve() -> None:
    clauses = parse_filter("environment=Production,severity=critical")
    closed = {**ALERT, "severity": "normal", "status": "closed"}
    assert not matches(clauses, closed)
    assert matches(clauses, closed, triggering=False)
    assert not matches(clauses, {**closed, "environment": "Development"}, triggering=False)


@pytest.mark.parametrize(("text", "problem"), [
    ("severity", "not field=value"), ("colour=red", "unknown field"), ("severity=critcal", "unknown severity"),
    ("status=gone", "unknown status"), ("attributes.=x", "unknown field"), ("environment=|", "not field=value"),
])
def test_bad_filters_are_refused_at_start_up(text: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"PAGERDUTY_FILTER": text})
    assert "PAGERDUTY_FILTER" in str(caught.value) and problem in str(caught.value)


def test_pagerduty_settings_are_validated() -> None:
    settings = Settings.from_env({"PORT": "9000", "PAGERDUTY_ROUTING_KEY": "R0UTING"})
    hooks = settings.hooks
    assert (settings.gateway.hooks_url, hooks.pagerduty_max_attempts, hooks.pagerduty_retry_delay_ms) == (
        "http://127.0.0.1:9002", 5, 1000)
    assert settings.hooks.pagerduty_events_url == "https://events.pagerduty.com/v2/enqueue"
    for name, value in [("HOOKS_URL", "ftp://x"), ("PAGERDUTY_EVENTS_URL", "nowhere"),
                        ("PAGERDUTY_MAX_ATTEMPTS", "0"), ("PAGERDUTY_RETRY_DELAY_MS", "soon"),
                        ("PAGERDUTY_ROUTING_KEY", "a b")]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})


@pytest.mark.parametrize(("kind", "changes", "action"), [
    ("created", {}, "trigger"),
    ("created", {"severity": "normal", "status": "closed"}, None),
    ("severity", {"severity": "major"}, "trigger"),
    ("status", {"status": "ack"}, "acknowledge"),
    ("status", {"status": "shelved"}, "acknowledge"),
    ("status", {"status": "open"}, "trigger"),
    ("status", {"status": "closed", "severity": "normal"}, "resolve"),
    ("status", {"status": "expired"}, "resolve"),
    ("status", {"status": "blackout"}, None),
    ("deleted", {}, "resolve"),
])
def test_event_actions(kind: str, changes: dict[str, str], action: str | None) -> None:
    assert event_action(kind, {**ALERT, **changes}) == action


def test_event_bodies() -> None:
    trigger = event_body("RK", "trigger", ALERT)
    assert {k: trigger[k] for k in ("routing_key", "event_action", "dedup_key", "client")} == {
        "routing_key": "RK", "event_action": "trigger", "dedup_key": "a1", "client": "alertbus"}
    payload = trigger["payload"]
    assert payload["summary"] == "[Production] critical: Down on web01 - web01 is down"
    assert (payload["source"], payload["severity"], payload["class"]) == ("web01", "critical", "Down")
    assert payload["custom_details"]["service"] == ["web", "api"]
    assert event_body("RK", "trigger", {**ALERT, "severity": "major", "text": "x" * 2000})["payload"][
        "severity"] == "error"
    assert len(event_body("RK", "trigger", {**ALERT, "text": "x" * 2000})["payload"]["summary"]) == 1024
    assert event_body("RK", "resolve", ALERT) == {"routing_key": "RK", "event_action": "resolve", "dedup_key": "a1"}


def test_retry_backoff_and_retryable_answers() -> None:
    assert [retry_delay_ms(1000, n) for n in (1, 2, 3, 4)] == [1000, 2000, 4000, 8000]
    assert retry_delay_ms(1000, 40) == 15 * 60 * 1000
    assert [is_retryable(code) for code in (429, 500, 503, 400, 403, 404)] == [True, True, True, False, False, False]


def test_status_command_adds_its_tags_in_the_same_write() -> None:
    doc = {"_id": "a1", "event": "Down", "severity": "major", "status": "open", "tags": ["x"], "history": []}
    cmd = {"op": "status", "status": "ack", "text": "t", "tags": ["incident=#7", "x"]}
    new = set_status(doc, cmd, now_ms(), 10)
    assert (new["status"], new["tags"], new["history"][-1]["text"]) == ("ack", ["x", "incident=#7"], "t")
    assert set_status(doc, {**cmd, "tags": None}, now_ms(), 10)["tags"] == ["x"]
