"""Inbound webhooks: PagerDuty incident changes become ``status`` commands, Alertmanager alerts become alerts.

The gateway authenticated the request (API key, scope ``write``) and passes the user in ``X-Alertbus-User``
-- except for a PagerDuty request signed with ``X-PagerDuty-Signature`` while ``PAGERDUTY_WEBHOOK_SECRET`` is
set, whose signature is checked here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shared import rules
from shared.commands import STATUS
from shared.http import ApiError, Handler, base_url, json_response, read_json, request_id
from shared.render import with_href
from shared.schemas import BadInput, parse_json
from shared.webhooks import (
    PAGERDUTY_PATHS,
    PROMETHEUS_PATH,
    SIGNATURE_HEADER,
    USER_HEADER,
    IncidentUpdate,
    alertmanager_alerts,
    pagerduty_updates,
    verify_signature,
)

from .keys import METRICS, RPC, SETTINGS, STORE
from .publish import Reply, send_alerts, send_command


def _headers(request: web.Request, default_user: str) -> dict[str, Any]:
    return {"user": request.headers.get(USER_HEADER) or default_user, "request_id": request_id(request)}


def _check_signature(request: web.Request, raw: bytes) -> None:
    secret = request.app[SETTINGS].pagerduty_webhook_secret
    signature = request.headers.get(SIGNATURE_HEADER)
    if secret and signature is not None and not verify_signature(secret, raw, signature):
        request.app[METRICS].webhook_messages.labels("pagerduty", "unauthorized").inc()
        raise ApiError(401, f"{SIGNATURE_HEADER} does not match the body")


async def _commands(request: web.Request, updates: list[IncidentUpdate]) -> list[dict[str, Any]]:
    """One status command per update, for the alerts the incidents were raised for; 404 (nothing sent)
    when one of them is unknown."""
    store = request.app[STORE]
    found = [(update, await store.get_alert(update.incident_key)) for update in updates]
    missing = [update.incident_key for update, doc in found if doc is None]
    if missing:
        request.app[METRICS].webhook_messages.labels("pagerduty", "not-found").inc(len(missing))
        raise ApiError(404, "not found", {"incident_key": missing})
    user = request.headers.get(USER_HEADER) or "pagerduty"
    return [
        {"op": STATUS, "id": doc["_id"], "environment": doc["environment"], "resource": doc["resource"],
         "status": update.status, "text": update.text, "tags": [update.tag], "user": user}
        for update, doc in found if doc is not None
    ]


def _raise_for(reply: Reply) -> None:
    if reply is not None and int(reply["code"]) >= 400:
        body = reply["body"]
        raise ApiError(int(reply["code"]), body.get("message", "refused"), body.get("errors"))


async def pagerduty(request: web.Request) -> web.Response:
    """PagerDuty v1 (``messages``) and v3 (``event``) webhooks; 200 ``{"status": "ok"}`` as Alerta."""
    raw = await request.read()
    _check_signature(request, raw)
    if not raw:
        raise BadInput("request body is empty; a PagerDuty webhook payload was expected")
    metrics = request.app[METRICS].webhook_messages
    try:
        updates = pagerduty_updates(parse_json(raw))
    except BadInput:
        metrics.labels("pagerduty", "invalid").inc()
        raise
    if not updates:
        metrics.labels("pagerduty", "ignored").inc()
        return json_response({"status": "ok", "message": "event does not change an alert; ignored"})
    headers = _headers(request, "pagerduty")
    queued = False
    for command in await _commands(request, updates):  # in order: one incident may change twice
        reply = await send_command(request.app[RPC], command, headers)
        _raise_for(reply)
        queued = queued or reply is None
        metrics.labels("pagerduty", "ok").inc()
    if queued:
        return json_response({"status": "ok", "message": "status change accepted for processing"}, status=202)
    return json_response({"status": "ok"})


def _check_policy(request: web.Request, alerts: list[dict[str, Any]]) -> None:
    """The pre-receive policy, checked for the whole batch before anything is published."""
    settings = request.app[SETTINGS]
    policy = rules.Policy(settings.allowed_environments, settings.origin_blacklist, settings.require_service)
    errors = {}
    for index, alert in enumerate(alerts):
        try:
            policy.check(alert)
        except rules.Rejected as exc:
            errors[f"alerts[{index}]"] = str(exc)
    if errors:
        request.app[METRICS].webhook_messages.labels("prometheus", "rejected").inc(len(alerts))
        raise ApiError(403, "; ".join(f"{path}: {text}" for path, text in errors.items()), errors)


async def prometheus(request: web.Request) -> web.Response:
    """Alertmanager's webhook (version 4): every alert or none. 201 with the processed alerts, or 202 when
    the sender asked for ``Prefer: respond-async`` or a worker did not answer in time."""
    metrics = request.app[METRICS].webhook_messages
    try:
        alerts = alertmanager_alerts(await read_json(request))
    except BadInput:
        metrics.labels("prometheus", "invalid").inc()
        raise
    _check_policy(request, [alert for _, alert in alerts])
    wait = "respond-async" not in request.headers.get("Prefer", "").lower()
    ids, replies = await send_alerts(request.app[RPC], alerts, _headers(request, "prometheus"), wait)
    for reply in replies:
        _raise_for(reply)
    metrics.labels("prometheus", "ok").inc(len(alerts))
    if not wait or any(reply is None for reply in replies):
        return json_response({"status": "ok", "ids": ids, "message": "alerts accepted for processing"},
                             status=202)
    base = base_url(request, api_prefix=True)
    bodies = [with_href(reply["body"]["alert"], base, "alert") for reply in replies if reply is not None]
    return json_response({"status": "ok", "ids": [body["id"] for body in bodies], "alerts": bodies}, status=201)


HOOK_ROUTES: list[tuple[str, str, Handler]] = [
    *[("POST", path, pagerduty) for path in PAGERDUTY_PATHS],
    ("POST", PROMETHEUS_PATH, prometheus),
]
