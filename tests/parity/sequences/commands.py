"""What changes a stored alert: status and actions, tags, attributes, notes, the history they write, delete."""

from __future__ import annotations

from ..model import Sequence, Step, alert, get


def put(name: str, path: str, body: object, **kwargs: object) -> Step:
    return Step(name, "PUT", path, body, **kwargs)  # type: ignore[arg-type]


STATUS = Sequence("commands: status and actions", (
    alert("create", "s1", "c-web01", "ProcDown", "major", tags=["linux"]),
    put("ack by status", "/alert/{s1}/status", {"status": "ack", "text": "looking into it"}),
    get("GET", "/alert/{s1}", "read the acked alert"),
    alert("a duplicate keeps ack", None, "c-web01", "ProcDown", "major"),
    put("action unack", "/alert/{s1}/action", {"action": "unack", "text": "not mine"}),
    put("action shelve", "/alert/{s1}/action", {"action": "shelve", "text": "later", "timeout": 600}),
    put("action unshelve", "/alert/{s1}/action", {"action": "unshelve"}),
    put("action close", "/alert/{s1}/action", {"action": "close", "text": "fixed"}),
    put("action open", "/alert/{s1}/action", {"action": "open"}),
    put("action not allowed", "/alert/{s1}/action", {"action": "unshelve"}),
    put("status closed", "/alert/{s1}/status", {"status": "closed", "text": "done"}),
    get("GET", "/alert/{s1}", "read after the status changes"),
    get("GET", "/alerts/history?resource=c-web01", "history of the status changes"),
))

TAGS_AND_ATTRIBUTES = Sequence("commands: tags and attributes", (
    alert("create", "t1", "c-web02", "ProcDown", "minor", tags=["linux"], attributes={"region": "EU"}),
    put("tag", "/alert/{t1}/tag", {"tags": ["london", "rack1"]}),
    put("tag again (a set)", "/alert/{t1}/tag", {"tags": ["london"]}),
    put("untag", "/alert/{t1}/untag", {"tags": ["linux", "absent"]}),
    put("attributes", "/alert/{t1}/attributes", {"attributes": {"owner": "ops", "region": "US"}}),
    put("attribute deleted by null", "/alert/{t1}/attributes", {"attributes": {"owner": None}}),
    get("GET", "/alert/{t1}", "read the tags and attributes"),
    put("tag without tags", "/alert/{t1}/tag", {}),
    put("attributes without attributes", "/alert/{t1}/attributes", {}),
))

NOTES = Sequence("commands: notes", (
    alert("create", "n1", "c-web03", "ProcDown", "warning"),
    get("GET", "/alert/{n1}/notes", "no notes yet"),
    put("add a note", "/alert/{n1}/note", {"text": "first note"}, save={"note1": "note.id"}),
    put("add another", "/alert/{n1}/note", {"text": "second note"}, save={"note2": "note.id"}),
    get("GET", "/alert/{n1}/notes", "two notes"),
    put("edit a note", "/alert/{n1}/note/{note1}", {"text": "first note, edited"}),
    Step("delete a note", "DELETE", "/alert/{n1}/note/{note2}"),
    get("GET", "/alert/{n1}/notes", "one note left"),
    put("a note without text", "/alert/{n1}/note", {}),
    get("GET", "/alerts/history?resource=c-web03", "history with notes"),
))

DELETE = Sequence("commands: delete", (
    alert("create", "x1", "c-web04", "ProcDown", "major"),
    Step("delete", "DELETE", "/alert/{x1}"),
    get("GET", "/alert/{x1}", "read the deleted alert"),
    Step("delete again", "DELETE", "/alert/{x1}"),
    put("status of the deleted alert", "/alert/{x1}/status", {"status": "ack"}),
))

COMMANDS = [STATUS, TAGS_AND_ATTRIBUTES, NOTES, DELETE]
