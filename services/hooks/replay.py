"""Replay protection for PagerDuty v3 webhooks.

A signature proves who wrote a body, not when: anyone who once saw a signed body (a proxy's log, a capture) could
send it again, and every copy would add history. So a signed event is accepted only while its ``occurred_at`` lies
within ``PAGERDUTY_REPLAY_WINDOW`` seconds of our clock, and only once: its ``event.id`` is kept in the store (every
hooks replica sees it) for as long as the event could pass that time check. Unsigned events (they come with an API
key) are kept once by id too when they carry one, which also makes PagerDuty's repeated deliveries harmless; their
time is not checked, since the key, not the body, is their credential.

The store side (the claim, confirm and release of an id in ``webhook_events``, shared by every replica) is
``shared/store/webhook_events.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from shared.schemas import BadInput
from shared.settings import Settings
from shared.store.webhook_events import CLOCK_SKEW, EventStamp, ProcessedEvents

from .keys import SETTINGS, STORE

MAX_EVENT_ID = 128  # PagerDuty's ids are 26 characters; a client's are bounded like any string it sends
CLAIM_MARGIN = 30.0  # seconds beyond the longest processing: a store lookup, a publish and a reply


class StaleEvent(BadInput):
    """A signed event whose ``occurred_at`` lies outside the replay window."""


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def replay_stamp(body: Any, *, signed: bool, now: datetime, window: timedelta) -> EventStamp | None:
    """The id (and time) an event is remembered by; None for an unsigned body without a v3 ``event.id`` (a v1
    body: PagerDuty no longer sends those). A signed body must be a v3 event with ``event.id`` and a parsable
    ``event.occurred_at`` within the window (``StaleEvent`` otherwise): replays of anything else cannot be told
    from new events."""
    event = body.get("event") if isinstance(body, dict) else None
    ident = event.get("id") if isinstance(event, dict) else None
    if not signed and ident is None:
        return None
    if not isinstance(ident, str) or not 0 < len(ident) <= MAX_EVENT_ID:
        reason = f"a string of 1 to {MAX_EVENT_ID} characters" + (", required in a signed webhook" if signed else "")
        raise BadInput(f"event.id must be {reason} (a signed PagerDuty webhook must be a v3 event)",
                       {"event.id": reason})
    occurred = _parse_time(event.get("occurred_at")) if isinstance(event, dict) else None
    if not signed:
        return EventStamp(ident, None)
    if occurred is None:
        raise BadInput("event.occurred_at must be an ISO 8601 time in a signed PagerDuty webhook",
                       {"event.occurred_at": "an ISO 8601 time is required"})
    if now - occurred > window:
        raise StaleEvent(
            f"event {ident} occurred at {occurred.isoformat()}, more than {int(window.total_seconds())} s ago: "
            "refused as a possible replay (PAGERDUTY_REPLAY_WINDOW)", {"event.occurred_at": "older than the window"})
    if occurred - now > CLOCK_SKEW:
        raise StaleEvent(
            f"event {ident} occurred at {occurred.isoformat()}, more than {int(CLOCK_SKEW.total_seconds())} s in the "
            "future: refused (is a clock wrong?)", {"event.occurred_at": "in the future"})
    return EventStamp(ident, occurred)


def claim_seconds(settings: Settings) -> float:
    """The longest a request can take to apply an event: a publish and a reply, each bounded by RPC_TIMEOUT."""
    return 2 * settings.rpc_timeout + CLAIM_MARGIN


PROCESSED = web.AppKey("processed_events", ProcessedEvents)


async def replay_context(app: web.Application) -> AsyncIterator[None]:
    """The memory of processed PagerDuty events, on the service's store (register after ``store_context``)."""
    settings = app[SETTINGS]
    app[PROCESSED] = ProcessedEvents(app[STORE], timedelta(seconds=settings.hooks.pagerduty_replay_window),
                                     claim_seconds(settings))
    yield
