"""``GET /openapi.json``: a hand-written OpenAPI 3 description of the gateway's alert and heartbeat routes (writes,
commands, notes and the main reads), for clients, API explorers and the fuzz test (``tests/test_fuzz.py``).

It describes what a valid request looks like; the service answers anything else with a 4xx naming the problem
(never a 5xx), which is what the fuzz test checks. The full reference is the README."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shared.http import Handler, json_response, version
from shared.limits import NOTE_CHARS
from shared.severity import ACTIONS, SEVERITIES, STATUSES

TEXT = {"type": "string", "maxLength": 1024}
TEXTS = {"type": "array", "items": TEXT}
NULLABLE_TEXT = {"type": "string", "nullable": True}
TIMEOUT = {"type": "integer", "minimum": 0, "maximum": 10**9, "nullable": True}
NOTE_TEXT = {"type": "string", "minLength": 1, "maxLength": NOTE_CHARS}
OBJECT = {"type": "object"}

SCHEMAS: dict[str, Any] = {
    "Alert": {
        "type": "object", "required": ["resource", "event"],
        "properties": {
            "resource": {**TEXT, "minLength": 1}, "event": {**TEXT, "minLength": 1},
            "environment": {"type": "string", "maxLength": 256}, "severity": {"type": "string", "enum": SEVERITIES},
            "correlate": TEXTS, "status": {"type": "string", "enum": STATUSES}, "service": TEXTS,
            "group": NULLABLE_TEXT, "value": NULLABLE_TEXT, "text": NULLABLE_TEXT, "tags": TEXTS,
            "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
            "origin": NULLABLE_TEXT, "type": NULLABLE_TEXT,
            "createTime": {"type": "string", "format": "date-time", "nullable": True},
            "timeout": TIMEOUT, "rawData": NULLABLE_TEXT,
        },
    },
    "Heartbeat": {
        "type": "object",
        "properties": {
            "origin": {**TEXT, "nullable": True}, "tags": TEXTS,
            "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
            "createTime": {"type": "string", "format": "date-time", "nullable": True}, "timeout": TIMEOUT,
        },
    },
    "Status": {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "string", "enum": STATUSES}, "text": NULLABLE_TEXT, "timeout": TIMEOUT}},
    "Action": {"type": "object", "required": ["action"], "properties": {
        "action": {"type": "string", "enum": ACTIONS}, "text": NULLABLE_TEXT, "timeout": TIMEOUT}},
    "Tags": {"type": "object", "required": ["tags"], "properties": {"tags": TEXTS}},
    "Note": {"type": "object", "required": ["text"], "properties": {"text": NOTE_TEXT, "note": NOTE_TEXT}},
    "NoteUpdate": {"type": "object", "minProperties": 1, "properties": {"text": NOTE_TEXT, "attributes": OBJECT}},
    "Attributes": {"type": "object", "required": ["attributes"], "properties": {
        "attributes": {**OBJECT, "minProperties": 1, "description": "merged into the alert's; null deletes a key"}}},
    "Error": {"type": "object", "properties": {
        "status": {"type": "string"}, "message": {"type": "string"}, "code": {"type": "integer"},
        "errors": {}, "requestId": {"type": "string"}}},
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _answers(*codes: int) -> dict[str, Any]:
    described = {200: "done", 201: "processed", 202: "accepted for processing (queued)", 400: "bad input",
                 401: "no valid API key", 403: "refused (scope or pre-receive policy)", 404: "not found",
                 409: "not allowed in the alert's status (notes: over their bound)", 413: "body too large",
                 503: "the broker or the store is unavailable"}
    out: dict[str, Any] = {str(code): {"description": described[code]} for code in codes}
    for code in codes:
        if code >= 400:
            out[str(code)]["content"] = {"application/json": {"schema": _ref("Error")}}
    return out


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
NOTE_ID = {**ID, "name": "note_id"}
PREFER = {"name": "Prefer", "in": "header", "required": False,
          "schema": {"type": "string", "enum": ["respond-async"]}}
WRITE = (400, 401, 403, 413, 503)
COMMAND = (200, 202, 400, 401, 403, 404, 409, 503)


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


ALERT_QUERY = [
    _query("status", {"type": "string", "enum": STATUSES}), _query("severity", {"type": "string", "enum": SEVERITIES}),
    _query("environment", {"type": "string"}), _query("resource", {"type": "string"}),
    _query("event", {"type": "string"}), _query("service", {"type": "string"}), _query("tags", {"type": "string"}),
    _query("page", {"type": "integer", "minimum": 1}),
    _query("page-size", {"type": "integer", "minimum": 1, "maximum": 1000}),
    _query("sort-by", {"type": "string", "enum": ["lastReceiveTime", "severity", "createTime", "resource"]}),
    _query("reverse", {"type": "boolean"}), _query("show-history", {"type": "boolean"}),
    _query("q", {"type": "string"}), _query("q.df", {"type": "string"}),
]

PATHS: dict[str, Any] = {
    "/alert": {"post": {"operationId": "postAlert", "parameters": [PREFER], "requestBody": _body("Alert"),
                        "responses": _answers(201, 202, *WRITE)}},
    "/heartbeat": {"post": {"operationId": "postHeartbeat", "parameters": [PREFER], "requestBody": _body("Heartbeat"),
                            "responses": _answers(201, 202, *WRITE)}},
    "/alert/{id}": {
        "get": {"operationId": "getAlert", "parameters": [ID], "responses": _answers(200, 401, 404)},
        "delete": {"operationId": "deleteAlert", "parameters": [ID], "responses": _answers(*COMMAND)},
    },
    "/alert/{id}/status": {"put": {"operationId": "setStatus", "parameters": [ID], "requestBody": _body("Status"),
                                   "responses": _answers(*COMMAND)}},
    "/alert/{id}/action": {"put": {"operationId": "takeAction", "parameters": [ID], "requestBody": _body("Action"),
                                   "responses": _answers(*COMMAND)}},
    "/alert/{id}/tag": {"put": {"operationId": "tag", "parameters": [ID], "requestBody": _body("Tags"),
                                "responses": _answers(*COMMAND)}},
    "/alert/{id}/untag": {"put": {"operationId": "untag", "parameters": [ID], "requestBody": _body("Tags"),
                                  "responses": _answers(*COMMAND)}},
    "/alert/{id}/note": {
        method: {"operationId": f"{method}Note", "parameters": [ID], "requestBody": _body("Note"),
                 "responses": _answers(201, *COMMAND)} for method in ("put", "post")},
    "/alert/{id}/notes": {"get": {"operationId": "listNotes", "parameters": [ID],
                                  "responses": _answers(200, 401, 404)}},
    "/alert/{id}/note/{note_id}": {
        "put": {"operationId": "updateNote", "parameters": [ID, NOTE_ID], "requestBody": _body("NoteUpdate"),
                "responses": _answers(*COMMAND)},
        "delete": {"operationId": "deleteNote", "parameters": [ID, NOTE_ID], "responses": _answers(*COMMAND)},
    },
    "/alert/{id}/attributes": {"put": {"operationId": "updateAttributes", "parameters": [ID],
                                       "requestBody": _body("Attributes"), "responses": _answers(*COMMAND)}},
    "/alerts": {"get": {"operationId": "listAlerts", "parameters": ALERT_QUERY,
                        "responses": _answers(200, 400, 401)}},
    "/alerts/count": {"get": {"operationId": "countAlerts", "parameters": ALERT_QUERY,
                              "responses": _answers(200, 400, 401)}},
    "/heartbeat/{id}": {
        "get": {"operationId": "getHeartbeat", "parameters": [ID], "responses": _answers(200, 401, 404)},
        "delete": {"operationId": "deleteHeartbeat", "parameters": [ID], "responses": _answers(*COMMAND)},
    },
    "/heartbeats": {"get": {"operationId": "listHeartbeats", "responses": _answers(200, 400, 401)}},
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "alertbus", "version": version(),
                 "description": "Alerta REST API v3 alert server; every route is also served under /api."},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
        "security": [{"apiKey": []}],
    }


async def openapi(request: web.Request) -> web.Response:
    return json_response(document())


OPENAPI_ROUTES: list[tuple[str, str, Handler]] = [("GET", "/openapi.json", openapi)]
