"""Inbound webhooks: PagerDuty incident changes become ``status`` commands, Alertmanager alerts become alerts.

The gateway authenticated the request (API key, scope ``write``) and passes the user in ``X-Alertbus-User``
-- except for a PagerDuty request signed with ``X-PagerDuty-Signature`` while ``PAGERDUTY_WEBHOOK_SECRET`` is
set, whose signature is checked here.

A PagerDuty event is applied once (see ``replay.py``): a signed one only within ``PAGERDUTY_REPLAY_WINDOW`` of its
``occurred_at`` (400 outside it), and no event id twice within the window. A repeated event is answered 200 with no
effect, not refused: PagerDuty retries a delivery that got no 2xx, and it may deliver one event twice by itself; an
attacker's replay changes nothing either way. One being applied by another request right now is answered 409
(PagerDuty retries it later, and then learns the outcome).
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from shared import rules
from shared.commands import STATUS
from shared.customers import CUSTOMERS_HEADER, CustomerRefused, assign_customer, decode_bound
from shared.http import ApiError, Handler, base_url, json_response, read_json, request_id
from shared.render import with_href
from shared.schemas import BadInput, parse_json
from shared.settings import Settings
from shared.store.webhook_events import EventStamp, Seen
from shared.webhooks import PAGERDUTY_PATHS, PROMETHEUS_PATH, SIGNATURE_HEADER, USER_HEADER

from .keys import METRICS, RPC, SETTINGS, STORE
from .payloads import IncidentUpdate, alertmanager_alerts, pagerduty_updates, verify_signature
from .publish import send_alerts
from .replay import PROCESSED, StaleEvent, replay_stamp

log = logging.getLogger("alertbus.hooks")


def _check_signature(request: web.Request, raw: bytes) -> bool:
    """True for a request whose signature was checked (the gateway let it in without a key)."""
    secret = request.app[SETTINGS].hooks.pagerduty_webhook_secret
    signature = request.headers.get(SIGNATURE_HEADER)
    if not secret or signature is None:
        return False
    if not verify_signature(secret, raw, signature):
        request.app[METRICS].webhook_messages.labels("pagerduty", "unauthorized").inc()
        raise ApiError(401, f"{SIGNATURE_HEADER} does not match the body")
    return True


def _bound(request: web.Request) -> frozenset[str]:
    """The caller's customers, as the gateway passed them (this service answers only the gateway)."""
    try:
        return decode_bound(request.headers.get(CUSTOMERS_HEADER))
    except ValueError as exc:
        raise ApiError(400, f"{CUSTOMERS_HEADER}: {exc}") from None


async def _commands(request: web.Request, updates: list[IncidentUpdate]) -> list[dict[str, Any]]:
    """One status command per update, for the alerts the incidents were raised for; 404 (nothing sent)
    when one of them is unknown."""
    store = request.app[STORE]
    customers = _bound(request)  # another customer's alert is not there for a bound caller
    found = [(update, await store.get_alert(update.incident_key, customers=customers)) for update in updates]
    missing = [update.incident_key for update, doc in found if doc is None]
    if missing:
        request.app[METRICS].webhook_messages.labels("pagerduty", "not-found").inc(len(missing))
        raise ApiError(404, "not found", {"incident_key": missing})
    user = request.headers.get(USER_HEADER) or "pagerduty"
    return [
        {"op": STATUS, "id": doc["_id"], "environment": doc["environment"], "resource": doc["resource"],
         "status": update.status, "text": update.text, "tags": [update.tag], "user": user,
         **({"customers": sorted(customers)} if customers else {})}
        for update, doc in found if doc is not None
    ]


async def _read_pagerduty(request: web.Request) -> tuple[list[IncidentUpdate], EventStamp | None]:
    """The body's incident changes, and what it is remembered by against replays (None: not remembered)."""
    raw = await request.read()
    signed = _check_signature(request, raw)
    if not raw:
        raise BadInput("request body is empty; a PagerDuty webhook payload was expected")
    metrics = request.app[METRICS].webhook_messages
    window = timedelta(seconds=request.app[SETTINGS].hooks.pagerduty_replay_window)
    try:
        body = parse_json(raw)
        updates = pagerduty_updates(body)
        return updates, replay_stamp(body, signed=signed, now=datetime.now(UTC), window=window)
    except StaleEvent as exc:
        metrics.labels("pagerduty", "stale").inc()
        log.warning("signed PagerDuty webhook refused: %s", exc.message)
        raise
    except BadInput:
        metrics.labels("pagerduty", "invalid").inc()
        raise


async def _apply(request: web.Request, updates: list[IncidentUpdate]) -> web.Response:
    queued = False
    for command in await _commands(request, updates):  # in order: one incident may change twice
        reply = await request.app[RPC].send_command(command, user=command["user"], request_id=request_id(request))
        queued = reply.raise_for_error().queued or queued
        request.app[METRICS].webhook_messages.labels("pagerduty", "ok").inc()
    if queued:
        return json_response({"status": "ok", "message": "status change accepted for processing"}, status=202)
    return json_response({"status": "ok"})


async def pagerduty(request: web.Request) -> web.Response:
    """PagerDuty v1 (``messages``) and v3 (``event``) webhooks; 200 ``{"status": "ok"}`` as Alerta."""
    updates, stamp = await _read_pagerduty(request)
    metrics = request.app[METRICS].webhook_messages
    if not updates:
        metrics.labels("pagerduty", "ignored").inc()
        return json_response({"status": "ok", "message": "event does not change an alert; ignored"})
    if stamp is None:
        return await _apply(request, updates)
    outcome = await request.app[PROCESSED].run_once(stamp, lambda: _apply(request, updates))
    if outcome is Seen.IN_PROGRESS:
        metrics.labels("pagerduty", "in-progress").inc()
        raise ApiError(409, f"event {stamp.event_id} is being processed; try again later")
    if outcome is Seen.PROCESSED:
        metrics.labels("pagerduty", "duplicate").inc()
        log.info("PagerDuty event %s was processed already; ignored", stamp.event_id)
        return json_response({"status": "ok", "message": f"event {stamp.event_id} was processed already; ignored"})
    return outcome


@functools.cache
def _policy(settings: Settings) -> rules.Policy:
    # Built once per settings: a Policy compiles its patterns.
    return settings.rules.policy()


def _check_policy(request: web.Request, alerts: list[dict[str, Any]]) -> None:
    """The pre-receive policy, checked for the whole batch before anything is published."""
    policy = _policy(request.app[SETTINGS])
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
    try:  # a bound caller's alerts are its customer's (Alertmanager's labels name none)
        customer = assign_customer(None, _bound(request), may_choose=False)
    except CustomerRefused as exc:
        raise ApiError(400, str(exc)) from None
    if customer is not None:
        alerts = [({**wire, "customer": customer}, {**alert, "customer": customer}) for wire, alert in alerts]
    wait = "respond-async" not in request.headers.get("Prefer", "").lower()
    user = request.headers.get(USER_HEADER) or "prometheus"
    replies = await send_alerts(request.app[RPC], alerts, user=user, request_id=request_id(request), wait=wait)
    for reply in replies:
        reply.raise_for_error()
    metrics.labels("prometheus", "ok").inc(len(alerts))
    if not wait or any(reply.queued for reply in replies):
        return json_response({"status": "ok", "ids": [reply.id for reply in replies],
                              "message": "alerts accepted for processing"}, status=202)
    suppressed = next((reply for reply in replies if "alert" not in reply.body), None)
    if suppressed is not None:  # during a blackout: 202 with Alerta's message, as Alerta's webhooks answer
        return json_response({"status": "ok", "id": suppressed.id, "ids": [reply.id for reply in replies],
                              "message": suppressed.body.get("message")}, status=202)
    base = base_url(request, api_prefix=True)
    bodies = [with_href(reply.body["alert"], base, "alert") for reply in replies]
    return json_response(processed_answer(bodies), status=201)


def processed_answer(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """Alerta's answer to a webhook's processed alerts: one alert as ``POST /alert`` answers it, several (or none)
    as their ids."""
    if len(bodies) == 1:
        return {"status": "ok", "id": bodies[0]["id"], "alert": bodies[0]}
    return {"status": "ok", "ids": [body["id"] for body in bodies]}


HOOK_ROUTES: list[tuple[str, str, Handler]] = [
    *[("POST", path, pagerduty) for path in PAGERDUTY_PATHS],
    ("POST", PROMETHEUS_PATH, prometheus),
]
