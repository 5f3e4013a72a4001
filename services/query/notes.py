"""``GET /alert/{id}/notes``: an alert's notes, oldest first, as Alerta 9.1 lists them (shared/notes.py)."""

from __future__ import annotations

from aiohttp import web

from shared.http import ApiError, Handler, base_url, json_response
from shared.notes import NOTES, note_body, notes_of, with_links

from .keys import SETTINGS, STORE
from .tenancy import bound


async def get_notes(request: web.Request) -> web.Response:
    limit = request.app[SETTINGS].query.store_max_time_ms
    doc = await request.app[STORE].get_alert(request.match_info["id"], max_time_ms=limit, fields=[NOTES, "customer"],
                                             customers=bound(request))
    if doc is None:
        raise ApiError(404, "not found")
    base = base_url(request)
    notes = [with_links(note_body(note, doc), base) for note in notes_of(doc)]
    if not notes:  # Alerta's answer to an alert without notes
        return json_response({"status": "ok", "message": "not found", "notes": [], "total": 0})
    return json_response({"status": "ok", "notes": notes, "total": len(notes)})


NOTE_ROUTES: list[tuple[str, str, Handler]] = [("GET", "/alert/{id}/notes", get_notes)]
