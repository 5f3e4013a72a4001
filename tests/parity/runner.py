"""Replays every sequence against the reference Alerta and alertbus, step by step (the reference first), and
classifies each difference of the normalised answers as deliberate (``deliberate.yaml``) or unexpected."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .deliberate import Deliberate
from .model import Sequence, Step
from .normalise import Answer, Difference, Normaliser, compare

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)(?::(\d+))?\}")  # {a1}, or {a1:8}: its first 8 characters


@dataclass
class Server:
    base: str
    key: str


@dataclass
class Outcome:
    """Counts of the run, and what the report lists."""

    requests: int = 0
    identical: int = 0
    deliberate: int = 0
    unexpected: list[tuple[str, Step, list[Difference]]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    used: Counter[int] = field(default_factory=Counter)  # per deliberate entry (index): requests it covered


def fill(value: Any, saved: dict[str, str]) -> Any:
    """``{name}`` replaced by the value this server's answers gave for ``name``, ``{name:n}`` by its first n
    characters (unknown names stay)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: substitute(m, saved), value)
    if isinstance(value, dict):
        return {k: fill(v, saved) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, saved) for v in value]
    return value


def substitute(match: re.Match[str], saved: dict[str, str]) -> str:
    if match.group(1) not in saved:
        return match.group(0)
    value = saved[match.group(1)]
    return value[:int(match.group(2))] if match.group(2) else value


def send(server: Server, step: Step, saved: dict[str, str]) -> Answer:
    data = step.raw if step.raw is not None else (
        json.dumps(fill(step.body, saved)).encode() if step.body is not None else None)
    headers = {"Authorization": f"Key {server.key}"} if step.auth else {}
    if data is not None:
        headers["Content-Type"] = step.content_type
    request = urllib.request.Request(server.base + fill(step.path, saved), data=data, method=step.method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return answer(response.status, response.read(), response.headers.get("Location"))
    except urllib.error.HTTPError as error:
        return answer(error.code, error.read(), error.headers.get("Location"))


def answer(status: int, raw: bytes, location: str | None) -> Answer:
    text = raw.decode("utf-8", "replace")
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = text.strip()
    return Answer(status, body, location)


def dig(body: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(body, dict):
            body = body.get(part)
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            return None
    return body


def skip_note(sequence: Sequence, bus: Server) -> str | None:
    """Why a sequence that needs a feature of another branch is skipped: its probe answers 404 here."""
    if not sequence.requires or not sequence.probe:
        return None
    status = send(bus, Step("probe", "GET", sequence.probe), {}).status
    if status != 404:
        return None
    return f"{sequence.name}: skipped, needs {sequence.requires} (alertbus answers GET {sequence.probe} with 404)"


def run(sequences: list[Sequence], ref: Server, bus: Server, deliberate: list[Deliberate]) -> Outcome:
    outcome = Outcome()
    # What a sequence saves, later ones may use (the queries' seeds, then their reads).
    sides = [(ref, Normaliser(ref.base), dict[str, str]()), (bus, Normaliser(bus.base), dict[str, str]())]
    for sequence in sequences:
        note = skip_note(sequence, bus)
        if note:
            outcome.skipped.append(note)
            continue
        for step in sequence.steps:
            answers = []
            for server, normaliser, saved in sides:
                got = send(server, step, saved)
                for name, path in step.save.items():
                    value = dig(got.body, path)
                    if isinstance(value, str):
                        saved[name] = value
                        normaliser.save(name, value)
                answers.append(normaliser.answer(got))
            classify(outcome, sequence, step, compare(answers[0], answers[1]), deliberate)
    return outcome


def classify(outcome: Outcome, sequence: Sequence, step: Step, differences: list[Difference],
             deliberate: list[Deliberate]) -> None:
    outcome.requests += 1
    where = f"{sequence.name} / {step.name}"
    unexpected = []
    covering: set[int] = set()
    for difference in differences:
        matched = {i for i, entry in enumerate(deliberate) if entry.covers(where, difference.path)}
        covering |= matched
        if not matched:
            unexpected.append(difference)
    outcome.used.update(covering)
    if not differences:
        outcome.identical += 1
    elif not unexpected:
        outcome.deliberate += 1
    else:
        outcome.unexpected.append((sequence.name, step, unexpected))
