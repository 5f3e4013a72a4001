"""Notes on an alert and updates of its attributes (Alerta 9.1's routes): validated here, applied by the ingest
workers in order with the other messages of the alert's group, like every command (shared/notes.py). Reading the
notes (``GET /alert/{id}/notes``) is the query service's."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shared.commands import ATTRIBUTES, NOTE, NOTE_DELETE, NOTE_UPDATE
from shared.fieldtypes import NOT_ONE_LINE
from shared.http import ApiError, Handler, base_url, json_response, read_json
from shared.note_schemas import ATTRIBUTES_BODY, NOTE_BODY, NOTE_UPDATE_BODY
from shared.notes import with_links
from shared.replies import Reply
from shared.schemas import load_body

from .commands import alert_command, command_answer

NOTE_ID_CHARS = 128  # a note's id is the receive id of the message that added it (at most this long)


def _note_id(request: web.Request, missing: str) -> str:
    """The note id the path names; one that no note can have is not found, without a round trip."""
    note_id = request.match_info["note_id"]
    if not 0 < len(note_id) <= NOTE_ID_CHARS or NOT_ONE_LINE.search(note_id):
        raise ApiError(404, missing)
    return note_id


def _note_answer(request: web.Request, reply: Reply, **extra: str) -> web.Response:
    """The worker's answer with the note's links added (their base URL is the gateway's to know)."""
    if reply.queued:
        return json_response({"status": "ok", "message": "command accepted for processing", **extra}, status=202)
    body = reply.body
    note = body.get("note")
    headers: dict[str, str] = {}
    if isinstance(note, dict):
        with_links(note, base_url(request))
        if reply.status == 201:
            headers["Location"] = f"{note['_links']['alert']}/note/{note['id']}"
    return json_response(body, status=reply.status, headers=headers)


async def add_note(request: web.Request) -> web.Response:
    """``PUT|POST /alert/{id}/note`` → 201 ``{"status":"ok","id","note"}``; the note's id is the message's."""
    body = load_body(NOTE_BODY, await read_json(request))
    reply = await alert_command(request, NOTE, body)
    return _note_answer(request, reply, id=reply.id)


async def update_note(request: web.Request) -> web.Response:
    """``PUT /alert/{id}/note/{note_id}`` → 200 ``{"status":"ok","note"}``."""
    body = load_body(NOTE_UPDATE_BODY, await read_json(request))
    params: dict[str, Any] = {"note": _note_id(request, "not found"), **body}
    return _note_answer(request, await alert_command(request, NOTE_UPDATE, params))


async def delete_note(request: web.Request) -> web.Response:
    """``DELETE /alert/{id}/note/{note_id}`` → 200 ``{"status":"ok"}``, with a ``dismiss`` history entry."""
    params = {"note": _note_id(request, "note not found")}
    return command_answer(await alert_command(request, NOTE_DELETE, params, missing="alert not found"))


async def update_attributes(request: web.Request) -> web.Response:
    """``PUT /alert/{id}/attributes`` (``alerta update``) → 200 ``{"status":"ok"}``."""
    body = load_body(ATTRIBUTES_BODY, await read_json(request))
    return command_answer(await alert_command(request, ATTRIBUTES, body))


NOTE_ROUTES: list[tuple[str, str, Handler]] = [
    *[(verb, "/alert/{id}/note", add_note) for verb in ("PUT", "POST")],
    ("PUT", "/alert/{id}/note/{note_id}", update_note),
    ("DELETE", "/alert/{id}/note/{note_id}", delete_note),
    ("PUT", "/alert/{id}/attributes", update_attributes),
]
