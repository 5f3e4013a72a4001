"""What clients ask before they read: ``/config`` (the alarm model the ``alerta`` command-line client
needs for every command) and ``/management/status`` (read by ``alerta top`` and ``alerta status``)."""

from __future__ import annotations

import time
from importlib import metadata
from typing import Any

from aiohttp import web

from shared.http import Handler, base_url, json_response
from shared.severity import DEFAULT_PREVIOUS_SEVERITY, DEFAULT_SEVERITY, DEFAULT_STATUS, SEVERITY_MAP, STATUSES

from .keys import SETTINGS, STARTED

COLORS = {
    "security": "blue", "critical": "red", "major": "orange", "minor": "yellow", "warning": "#1E90FF",
    "indeterminate": "lightblue", "informational": "#00CC00", "normal": "#00CC00", "ok": "#00CC00",
    "cleared": "#00CC00", "debug": "#9D006D", "trace": "#7554BF", "unknown": "silver",
}


def version() -> str:
    try:
        return metadata.version("alertbus")
    except metadata.PackageNotFoundError:
        return "unknown"


def alarm_model() -> dict[str, Any]:
    """Today's Alerta alarm model, in the shape of Alerta 9's ``/config``."""
    return {
        "name": "Alerta (alertbus)",
        "severity": dict(SEVERITY_MAP),
        "colors": {"severity": COLORS},
        "status": {status: chr(ord("A") + index) for index, status in enumerate(STATUSES)},
        "defaults": {
            "status": DEFAULT_STATUS,
            "normal_severity": DEFAULT_SEVERITY,
            "previous_severity": DEFAULT_PREVIOUS_SEVERITY,
        },
    }


async def get_config(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return json_response({
        "endpoint": base_url(request),
        "alarm_model": alarm_model(),
        "severity": dict(SEVERITY_MAP),
        "colors": {"severity": COLORS},
        "auth_required": settings.auth_required,
        "provider": "basic",
        "customer_views": False,
        "readonly": False,
        "signup_enabled": False,
        "sort_by": "lastReceiveTime",
        "refresh_interval": 5000,
    })


async def get_status(request: web.Request) -> web.Response:
    started = request.app[STARTED]
    now = time.time()
    return json_response({
        "application": "alertbus",
        "version": version(),
        "time": int(now * 1000),
        "uptime": int((now - started) * 1000),
        "metrics": [],
    })


META_ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/config", get_config),
    ("GET", "/management/status", get_status),
]
