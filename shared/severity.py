"""Severity and status model (today's Alerta alarm model, shared core). Pure functions only."""

from __future__ import annotations

SEVERITY_MAP: dict[str, int] = {
    "security": 0,
    "critical": 1,
    "major": 2,
    "minor": 3,
    "warning": 4,
    "indeterminate": 5,
    "informational": 6,
    "normal": 7,
    "ok": 7,
    "cleared": 7,
    "debug": 8,
    "trace": 9,
    "unknown": 10,
}
SEVERITIES = tuple(sorted(SEVERITY_MAP, key=SEVERITY_MAP.__getitem__))
DEFAULT_SEVERITY = "normal"
DEFAULT_PREVIOUS_SEVERITY = "indeterminate"
NORMAL_LEVEL = SEVERITY_MAP["normal"]

OPEN, ASSIGN, ACK, SHELVED, BLACKOUT, CLOSED, EXPIRED, UNKNOWN = (
    "open", "assign", "ack", "shelved", "blackout", "closed", "expired", "unknown",
)
STATUSES = (OPEN, ASSIGN, ACK, SHELVED, BLACKOUT, CLOSED, EXPIRED, UNKNOWN)
DEFAULT_STATUS = OPEN

MORE_SEVERE, LESS_SEVERE, NO_CHANGE = "moreSevere", "lessSevere", "noChange"


class InvalidTransition(ValueError):
    """An operator action that the alarm model does not allow from the current status."""


def severity_code(severity: str) -> int:
    return SEVERITY_MAP.get(severity, SEVERITY_MAP["unknown"])


def is_normal(severity: str) -> bool:
    return severity_code(severity) == NORMAL_LEVEL


def trend(previous: str, current: str) -> str:
    if previous not in SEVERITY_MAP or current not in SEVERITY_MAP:
        return NO_CHANGE
    if SEVERITY_MAP[previous] > SEVERITY_MAP[current]:
        return MORE_SEVERE
    if SEVERITY_MAP[previous] < SEVERITY_MAP[current]:
        return LESS_SEVERE
    return NO_CHANGE


def next_status(
    *,
    severity: str,
    previous_severity: str | None,
    incoming_status: str | None,
    current_status: str | None,
    previous_status: str | None,
) -> str:
    """Status after receiving an alert (no operator action), as Alerta 9.1's alarm model decides it.

    ``incoming_status`` is the status the sender set explicitly (``None`` when it sent none): a sender's
    status wins, except that a normal severity always closes. ``current_status`` / ``previous_status`` are
    the stored alert's last two statuses (``None`` for a new alert).
    """
    current = current_status or DEFAULT_STATUS
    previous_st = previous_status or DEFAULT_STATUS
    prev_sev = previous_severity or DEFAULT_PREVIOUS_SEVERITY
    if incoming_status and incoming_status != DEFAULT_STATUS:
        return CLOSED if is_normal(severity) else incoming_status
    if current == ACK and prev_sev != DEFAULT_PREVIOUS_SEVERITY and trend(prev_sev, severity) == MORE_SEVERE:
        return OPEN
    if current == BLACKOUT:
        return previous_st if previous_st != BLACKOUT else current
    if current == CLOSED and not is_normal(severity):
        return SHELVED if previous_st == SHELVED else OPEN
    if is_normal(severity):
        return CLOSED
    if current == EXPIRED:
        return OPEN
    return current


ACTIONS = ("open", "assign", "ack", "unack", "shelve", "unshelve", "close", "expired", "timeout")


def action_transition(
    action: str, *, severity: str, previous_severity: str | None, current_status: str,
    previous_status: str | None,
) -> tuple[str, str]:
    """(severity, status) after an operator action, as Alerta 9.1's alarm model decides it.

    ``previous_status`` is the status before the action being undone (for unack/unshelve: before the
    last ack/shelve). Raises ``InvalidTransition`` for actions the current status does not allow.
    """
    state = current_status or DEFAULT_STATUS
    before = previous_status or DEFAULT_STATUS
    prev_sev = previous_severity or DEFAULT_PREVIOUS_SEVERITY
    if action in ("unack", "unshelve"):
        expected = ACK if action == "unack" else SHELVED
        if state != expected:
            raise InvalidTransition(f"invalid action for current {state} status")
        return severity, before
    if action == "expired":
        return severity, EXPIRED
    if action == "timeout":
        return severity, OPEN
    table: dict[str, dict[str, tuple[str, str] | None]] = {
        OPEN: {"open": None, "ack": (severity, ACK), "shelve": (severity, SHELVED), "close": ("normal", CLOSED)},
        ACK: {"open": (severity, OPEN), "ack": None, "shelve": (severity, SHELVED), "close": ("normal", CLOSED)},
        SHELVED: {"open": (severity, OPEN), "ack": None, "shelve": None, "close": ("normal", CLOSED)},
        CLOSED: {"open": (prev_sev, OPEN), "ack": None, "shelve": None, "close": None},
        BLACKOUT: {"close": ("normal", CLOSED)},
        EXPIRED: {"open": (severity, OPEN)},
    }
    rules = table.get(state, {})
    if action in rules:
        outcome = rules[action]
        if outcome is None:
            already = action == state or (action, state) in (("shelve", SHELVED), ("close", CLOSED))
            raise InvalidTransition(
                f"alert is already in {state} status" if already else f"invalid action for current {state} status"
            )
        return outcome
    if state == EXPIRED and action not in ("open",):
        raise InvalidTransition(f"invalid action for current {state} status")
    if state == BLACKOUT:
        return severity, (before if before != BLACKOUT else state)
    if is_normal(severity):
        return "normal", CLOSED
    return severity, state
