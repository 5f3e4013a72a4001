"""``/management/status``, read by ``alerta top`` (which shows the version) and ``alerta status``. The gateway
forwards it here like every read it does not answer itself; health (``/management/gtg``) stays in the
gateway because it checks the broker too."""

from __future__ import annotations

import time
from importlib import metadata

from aiohttp import web

from shared.http import Handler, json_response

from .keys import STARTED


def version() -> str:
    try:
        return metadata.version("alertbus")
    except metadata.PackageNotFoundError:
        return "unknown"


async def get_status(request: web.Request) -> web.Response:
    now = time.time()
    return json_response({
        "status": "ok",
        "application": "alertbus",
        "version": version(),
        "time": int(now * 1000),
        "uptime": int((now - request.app[STARTED]) * 1000),
        "metrics": [],
    })


META_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/management/status", get_status),
]
