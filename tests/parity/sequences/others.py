"""Heartbeats and blackouts."""

from __future__ import annotations

from ..model import Sequence, Step, alert, get

HEARTBEATS = Sequence("heartbeats", (
    Step("send", "POST", "/heartbeat", {"origin": "parity/hb1", "tags": ["parity"], "timeout": 120,
                                        "attributes": {"site": "lon"}}, save={"h1": "id"}),
    get("GET", "/heartbeat/{h1}", "read it"),
    Step("send again (same origin)", "POST", "/heartbeat", {"origin": "parity/hb1", "tags": ["parity", "again"]}),
    Step("send another", "POST", "/heartbeat", {"origin": "parity/hb2", "timeout": 60}, save={"h2": "id"}),
    get("GET", "/heartbeats?sort-by=origin", "list them"),
    Step("send a late one", "POST", "/heartbeat", {"origin": "parity/hb3", "timeout": 60,
                                                   "createTime": "2026-01-01T00:00:00.000Z"}, save={"h3": "id"}),
    get("GET", "/heartbeat/{h3}", "read the expired one"),
    get("GET", "/heartbeats?origin=parity/hb3", "filter by origin"),
    get("GET", "/heartbeats?sort-by=origin&page-size=1&page=5", "heartbeat page out of range"),
    Step("delete the late one", "DELETE", "/heartbeat/{h3}"),
    Step("without origin", "POST", "/heartbeat", {"tags": ["x"]}),
    Step("delete", "DELETE", "/heartbeat/{h2}"),
    get("GET", "/heartbeat/{h2}", "read the deleted one"),
    Step("delete again", "DELETE", "/heartbeat/{h2}"),
    Step("delete the first", "DELETE", "/heartbeat/{h1}"),
    get("GET", "/heartbeats", "list none"),
))

BLACKOUTS = Sequence("blackouts", (
    Step("create", "POST", "/blackout", {"environment": "Production", "resource": "b-web01", "duration": 3600,
                                         "text": "maintenance"}, save={"b1": "id"}),
    get("GET", "/blackout/{b1}", "read it"),
    alert("an alert it covers", None, "b-web01", "NodeDown", "major"),
    alert("an alert it does not cover", "b2", "b-web02", "NodeDown", "major"),
    Step("create one for an event", "POST", "/blackout", {"environment": "Development", "event": "Reboot",
                                                          "service": ["Web"]}, save={"b3": "id"}),
    get("GET", "/blackouts?sort-by=environment", "list them"),
    get("GET", "/blackouts?environment=Development", "filter by environment"),
    get("GET", "/blackouts?page-size=1&page=7", "blackout page out of range"),
    Step("change the text", "PUT", "/blackout/{b1}", {"text": "longer maintenance"}),
    Step("change nothing", "PUT", "/blackout/{b1}", {}),
    Step("without environment", "POST", "/blackout", {"resource": "b-web03"}),
    Step("delete", "DELETE", "/blackout/{b1}"),
    get("GET", "/blackout/{b1}", "read the deleted one"),
    Step("delete the other", "DELETE", "/blackout/{b3}"),
    alert("an alert after the blackout", None, "b-web01", "NodeDown", "major"),
    get("GET", "/blackouts", "list none"),
))

OTHERS = [HEARTBEATS, BLACKOUTS]
