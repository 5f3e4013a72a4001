"""``q`` in Alerta's query-string syntax (Lucene's, what ``alerta query -q`` and Alerta's console send) → the
restricted MongoDB filter the JSON ``q`` produces, so that the store sees one query language. Pure.

``luqum`` parses; this walks its tree: ``AND``/``OR``/``NOT`` (and ``+``/``-``), groups, ``field:(…)``, and the
terms of ``queryterms.py``. A ``NOT`` is pushed down to the terms (De Morgan), where each term has an exact
negated form. Bounded: the text's length, its number of terms and its nesting (a 400 each), as are the syntax
Alerta does not run (fuzzy ``~``, proximity, boosts ``^``, ``&&``/``||``/``!``), unknown fields and syntax errors.
"""

from __future__ import annotations

import re
from typing import Any

from luqum import tree
from luqum.exceptions import ParseError
from luqum.thread import parse

from shared.schemas import BadInput
from shared.vocabulary import Vocabulary, bad, check_text, shown

from . import queryterms as terms
from .queryterms import Field

MAX_LENGTH = 4096  # characters of a query string
MAX_TERMS = 256
MAX_DEPTH = 32  # nesting of operators, groups and fields
MAX_TOKENS = 4 * MAX_TERMS  # a cheap bound before parsing (some 50 µs a token, in the event loop)
TOKEN = re.compile(r"[^\s()]+")
DEFAULT_FIELD = "text"  # Alerta's, when the request names none (q.df)
LEAVES = (tree.Word, tree.Phrase, tree.Regex, tree.Range, tree.From, tree.To)
UNSUPPORTED = {
    tree.Fuzzy: "fuzzy search (~)", tree.Proximity: "proximity search (\"…\"~n)", tree.Boost: "boosting (^)",
}
OPERATOR_WORDS = ("&&", "||")

Filter = dict[str, Any]


def parse_query_string(raw: str, vocabulary: Vocabulary, default_field: str | None = None) -> Filter:
    """``q`` in the query-string syntax → a MongoDB filter over stored alerts (see the module's notes)."""
    check_text(raw, "q")
    if len(raw) > MAX_LENGTH:
        raise bad("q", f"q is longer than {MAX_LENGTH} characters")
    if len(TOKEN.findall(raw)) > MAX_TOKENS:
        raise bad("q", f"q has more than {MAX_TERMS} terms")
    if not raw.strip():
        raise bad("q", "q is empty")
    try:
        parsed = parse(raw)
    except ParseError as exc:
        # luqum quotes the offending text; bounded here, so that a huge input is not echoed whole
        raise bad("q", f"q: not a valid query: {str(exc)[:200]}") from None
    except ArithmeticError:  # luqum reads the number after ~ or ^ as a decimal (a~. is decimal.InvalidOperation)
        raise bad("q", "q: not a valid query: ~ and ^ take a number") from None
    check_shape(parsed)
    return Translation(vocabulary).build(parsed, default(default_field, vocabulary), False)


def default(name: str | None, vocabulary: Vocabulary) -> Field:
    """The field of bare terms: ``q.df`` or Alerta's default, ``text``."""
    try:
        return terms.resolve(name or DEFAULT_FIELD, vocabulary)
    except BadInput as exc:
        raise bad("q.df", exc.message.replace("q: ", "q.df: ", 1)) from None


def check_shape(parsed: Any) -> None:
    """The number of terms and the nesting, walked without recursion (luqum's tree may be deep)."""
    count = 0
    stack = [(parsed, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise bad("q", f"q is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, LEAVES):
            count += 1
            if count > MAX_TERMS:
                raise bad("q", f"q has more than {MAX_TERMS} terms")
        else:
            stack.extend((child, depth + 1) for child in node.children)


class Translation:
    """The walk over one parsed query; ``negate`` says that a ``NOT`` above is still to be applied."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary

    def build(self, node: Any, field: Field, negate: bool) -> Filter:
        for kind, what in UNSUPPORTED.items():
            if isinstance(node, kind):
                raise bad("q", f"q: {what} is not supported")
        if isinstance(node, tree.Not | tree.Prohibit):
            return self.build(node.a, field, not negate)
        if isinstance(node, tree.Plus | tree.Group | tree.FieldGroup):
            return self.build(node.expr if isinstance(node, tree.BaseGroup) else node.a, field, negate)
        if isinstance(node, tree.SearchField):
            return self.search_field(node, negate)
        if isinstance(node, tree.AndOperation):
            return self.conjunction([self.build(op, field, negate) for op in node.operands], negate)
        if isinstance(node, tree.OrOperation | tree.UnknownOperation):
            return self.disjunction(node.operands, field, negate)
        return self.term(node, field, negate)

    def conjunction(self, parts: list[Filter], negate: bool) -> Filter:
        """All of ``parts`` (already negated when ``negate``: then any of them, by De Morgan)."""
        return any_of(parts) if negate else all_of(parts)

    def disjunction(self, operands: list[Any], field: Field, negate: bool) -> Filter:
        """``a OR b`` and ``a b``, Lucene's way: a ``NOT x`` (``-x``) among them must not hold, a ``+x`` must hold
        (the others then only rank, which Alerta does not); ``a OR NOT b`` is ``a AND NOT b``, as in Alerta."""
        nots = [op.a for op in operands if isinstance(op, tree.Not | tree.Prohibit)]
        musts = [op.a for op in operands if isinstance(op, tree.Plus)]
        shoulds = [op for op in operands if not isinstance(op, tree.Not | tree.Prohibit | tree.Plus)]
        parts = [self.build(op, field, negate) for op in musts]
        if shoulds and not musts:
            either = [self.build(op, field, negate) for op in shoulds]
            parts.append(all_of(either) if negate else any_of(either))
        parts.extend(self.build(op, field, not negate) for op in nots)
        return self.conjunction(parts, negate)

    def search_field(self, node: Any, negate: bool) -> Filter:
        name = node.name
        if name.startswith("!"):
            raise bad("q", "q: write AND, OR and NOT instead of &&, || and !")
        if isinstance(node.expr, tree.SearchField):
            raise bad("q", f"q: {shown(name)}:{shown(node.expr.name)}: a field cannot hold a field; "
                           "group them as field:(other:value)")
        if name == "_exists_":
            if not isinstance(node.expr, tree.Word) or node.expr.has_wildcard():
                raise bad("q", "q: _exists_ takes the name of an attribute, such as _exists_:region")
            return terms.exists(node.expr.unescaped_value, negate)
        return self.build(node.expr, terms.resolve(name, self.vocabulary), negate)

    def term(self, node: Any, field: Field, negate: bool) -> Filter:
        if isinstance(node, tree.Word):
            if node.value in OPERATOR_WORDS or node.value.startswith("!"):
                raise bad("q", "q: write AND, OR and NOT instead of &&, || and !")
            if node.has_wildcard():
                return terms.wildcard(field, node.value, negate)
            return terms.word(field, node.unescaped_value, negate)
        if isinstance(node, tree.Phrase):
            return terms.phrase(field, node.unescaped_value[1:-1], negate)
        if isinstance(node, tree.Regex):
            return terms.regex(field, node.value[1:-1], negate)
        if isinstance(node, tree.Range):
            ends = (end_value(node.low), end_value(node.high))
            return terms.span(field, *ends, (node.include_low, node.include_high), negate)
        if isinstance(node, tree.From | tree.To):
            end = end_value(node.a)
            low, high = (end, None) if isinstance(node, tree.From) else (None, end)
            return terms.span(field, low, high, (node.include, node.include), negate)
        raise bad("q", f"q: {shown(str(node))} is not supported here")


def end_value(node: Any) -> str | None:
    """One end of a range: a word or a quoted phrase; ``*`` is an open end."""
    if isinstance(node, tree.Word):
        return None if node.value == "*" else str(node.unescaped_value)
    if isinstance(node, tree.Phrase):
        return str(node.unescaped_value[1:-1])
    raise bad("q", f"q: a range ends with a word or a quoted value, not {shown(str(node))}")


def all_of(parts: list[Filter]) -> Filter:
    """Every part must hold: one flat document while their fields differ (index planners see plain fields)."""
    if len(parts) == 1:
        return parts[0]
    keys = [key for part in parts for key in part]
    if len(keys) == len(set(keys)) and not any(key.startswith("$") for key in keys):
        return {key: value for part in parts for key, value in part.items()}
    return {"$and": parts}


def any_of(parts: list[Filter]) -> Filter:
    return parts[0] if len(parts) == 1 else {"$or": parts}

