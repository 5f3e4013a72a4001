"""The terms of ``q``'s query-string syntax (``querystring.py`` parses it) → conditions of the same restricted
MongoDB filter the JSON ``q`` produces (plain values, ``$in $nin $ne $regex $exists $gt $gte $lt $lte``, ``$not``
of a regex as the ``field!=~`` filters write it, ``$and $or``). Pure.

What a term means follows Alerta 9.1's query parser (its PostgreSQL backend, the one Alerta documents):

- ``field:word`` on a text field: the word anywhere in the value, any case (Alerta: ``ILIKE '%word%'``); on the
  list fields ``tags``, ``service`` and ``correlate``: an element equal to the word, case counting (``= ANY``).
- ``field:"a phrase"``: the phrase between word boundaries, any case (``~* '\\ya phrase\\y'``); on list fields an
  equal element. Unlike Alerta, the phrase is literal text, never a regular expression.
- ``field:we?b*``: a wildcard between word boundaries, any case; ``*`` is any text and ``?`` one character or
  none (Alerta turns ``?`` into ``.?``).
- ``field:/regex/``: the regular expression, unanchored, any case (``~*``); checked by ``regexes.safe_regex``.
- ``field:[a TO b]``, ``{a TO b}``, ``[a TO *]``, ``field:>a`` …: a range, compared as the field's type.
- ``_exists_:name``: the attribute ``name`` is set (Alerta looks only at attributes).
- ``NOT term`` matches only alerts that have the field (SQL: a comparison with NULL is never true), hence the
  ``$ne: null`` / ``$nin: [null, …]`` of the negated forms.

Numbers, booleans and dates, which Alerta cannot compare with a word (a 500 there), are compared by value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.regexes import MAX_CHOICES, literal, safe_regex
from shared.vocabulary import Vocabulary, attribute_path, bad, check_text, parse_date, shown

ARRAYS = frozenset({"tags", "service", "correlate"})
# Alerta's query parser takes PostgreSQL's column names; alertbus takes the API's names and these as aliases.
ALIASES = {
    "create_time": "createTime", "receive_time": "receiveTime", "last_receive_time": "lastReceiveTime",
    "update_time": "updateTime", "duplicate_count": "duplicateCount", "previous_severity": "previousSeverity",
    "trend_indication": "trendIndication", "last_receive_id": "lastReceiveId",
}
WORD = r"\b"  # a word boundary: PostgreSQL's \y
ASCII_WORD = re.compile(r"[A-Za-z0-9_]")  # a word character to every engine (\w is Unicode in Python's re)
MAX_INNER_STARS = 2
BOOLEANS = {"true": True, "t": True, "1": True, "yes": True, "y": True, "on": True,
            "false": False, "f": False, "0": False, "no": False, "n": False, "off": False}


@dataclass(frozen=True)
class Field:
    """A field of a term: the name the user wrote, its stored path and how its values compare."""

    name: str
    stored: str
    kind: str  # text, array, int, bool, date


def resolve(name: str, vocabulary: Vocabulary) -> Field:
    """A field name of ``q``: the API's name, an alias, ``id``, ``attributes.x[.y]`` or ``_.x`` (Alerta's short
    form); anything else is a 400."""
    check_text(name, "q")
    if name.startswith("_."):
        name = "attributes." + name[2:]
    if name.startswith("attributes.") and vocabulary.attributes:
        return Field(name, attribute_path(name, "q"), "text")
    base = ALIASES.get(name, name)
    if base in ("id", "_id"):
        return Field(name, "_id", "text")
    kind = ("array" if base in ARRAYS else "text") if base in vocabulary.strings else (
        "int" if base in vocabulary.ints else "bool" if base in vocabulary.bools else
        "date" if base in vocabulary.dates else "")
    if not kind:
        known = sorted(vocabulary.strings | vocabulary.ints | vocabulary.bools | vocabulary.dates | {"id"})
        raise bad("q", f"q: unknown field {shown(name)}; use one of {', '.join(known)}, attributes.<name> "
                       "or _exists_:<attribute>")
    return Field(name, base, kind)


def exists(name: str, negate: bool) -> dict[str, Any]:
    """``_exists_:name``: whether the attribute is set (``attributes.name`` and ``_.name`` are taken too)."""
    path = name[2:] if name.startswith("_.") else name.removeprefix("attributes.")
    stored = attribute_path("attributes." + path, "q")
    return {stored: {"$exists": not negate}}


def matching(field: Field, pattern: str, negate: bool) -> dict[str, Any]:
    """A case-insensitive search; negated, only alerts whose field is set (SQL's NULL is never a match)."""
    condition = {"$regex": pattern, "$options": "i"}
    return {field.stored: {"$ne": None, "$not": condition} if negate else condition}


def equal(field: Field, value: Any, negate: bool) -> dict[str, Any]:
    return {field.stored: {"$nin": [None, value]} if negate else value}


def typed(field: Field, text: str) -> Any:
    """A word or phrase compared by value with a number or boolean field."""
    if field.kind == "int":
        try:
            number = int(text.strip())
        except ValueError:
            raise bad("q", f"q: {field.name} is an integer; got {shown(text)}") from None
        if not -(2**63) <= number < 2**63:
            raise bad("q", f"q: {field.name} is compared with an integer outside the 64-bit range")
        return number
    if field.kind == "bool":
        if text.strip().lower() not in BOOLEANS:
            raise bad("q", f"q: {field.name} is true or false; got {shown(text)}")
        return BOOLEANS[text.strip().lower()]
    raise bad("q", f"q: {field.name} is a date: compare it with a range such as {field.name}:[2024-01-01 TO *]")


def word(field: Field, text: str, negate: bool) -> dict[str, Any]:
    if field.kind == "text":
        return matching(field, literal(check_text(text, "q")), negate)
    return equal(field, text if field.kind == "array" else typed(field, text), negate)


def phrase(field: Field, text: str, negate: bool) -> dict[str, Any]:
    if field.kind == "text":
        return matching(field, WORD + literal(check_text(text, "q")) + WORD, negate)
    return equal(field, text if field.kind == "array" else typed(field, text), negate)


def not_text(field: Field, what: str) -> None:
    if field.kind not in ("text", "array"):
        raise bad("q", f"q: {field.name} is not text: {what} apply to text fields only")


def wildcard(field: Field, raw: str, negate: bool) -> dict[str, Any]:
    """A term with ``*`` or ``?`` (``raw`` as written: a backslash makes the next character literal).

    Each ``.*`` multiplies the work of the store's backtracking engine by the length of the value (``a*b*c`` over
    a 64 KiB text takes minutes), so a ``*`` at an end next to a letter or digit is dropped with its word boundary
    (``\\bweb.*\\b`` finds what ``\\bweb`` finds), and at most ``MAX_INNER_STARS`` others are admitted."""
    not_text(field, "wildcards")
    parts: list[str] = []
    escaped = False
    for char in raw:
        if escaped or char not in "\\*?":
            parts.append(literal(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "?" or parts[-1:] != [".*"]:
            parts.append(".?" if char == "?" else ".*")
    left = "" if len(parts) > 1 and parts[0] == ".*" and ASCII_WORD.fullmatch(parts[1]) else WORD
    right = "" if len(parts) > 1 and parts[-1] == ".*" and ASCII_WORD.fullmatch(parts[-2]) else WORD
    inner = parts[1 if not left else 0:-1 if not right else len(parts)]
    if inner.count(".*") > MAX_INNER_STARS:
        raise bad("q", f"q: the wildcard term {shown(raw)} has more than {MAX_INNER_STARS} * inside it "
                       "(each one multiplies the work of a search)")
    if sum(part in (".*", ".?") for part in inner) > MAX_CHOICES:
        raise bad("q", f"q: the wildcard term {shown(raw)} has more than {MAX_CHOICES} wildcards")
    return matching(field, safe_regex(left + "".join(inner) + right, "q"), negate)


def regex(field: Field, pattern: str, negate: bool) -> dict[str, Any]:
    not_text(field, "regular expressions")
    return matching(field, safe_regex(pattern, "q"), negate)


def bound(field: Field, text: str) -> Any:
    """One end of a range, as the field's type."""
    if field.kind == "date":
        return parse_date(text, "q")
    if field.kind in ("int", "bool"):
        return typed(field, text)
    return check_text(text, "q")


def span(field: Field, low: str | None, high: str | None, include: tuple[bool, bool], negate: bool
         ) -> dict[str, Any]:
    """A range (``None``: an open end). Negated: below or above it, so again only alerts whose field is set."""
    ends: list[tuple[str, str, Any]] = []  # (operator, operator of the complement, bound)
    if low is not None:
        ends.append(("$gte" if include[0] else "$gt", "$lt" if include[0] else "$lte", bound(field, low)))
    if high is not None:
        ends.append(("$lte" if include[1] else "$lt", "$gt" if include[1] else "$gte", bound(field, high)))
    if not ends:  # [* TO *]: Lucene's "the field is set"
        return {field.stored: None} if negate else {field.stored: {"$ne": None}}
    if not negate:
        return {field.stored: {op: value for op, _, value in ends}}
    outside = [{field.stored: {flipped: value}} for _, flipped, value in ends]
    return outside[0] if len(outside) == 1 else {"$or": outside}
