"""Regular expressions from clients. A user's pattern is evaluated by two kinds of engine: RE2 (linear time)
wherever alertbus evaluates it itself (``user_regex``: the counters' matcher), and the store's engine for
``$regex`` (MongoDB: PCRE2, backtracking; the SecantusDB stand-in: Python's ``re``, backtracking). ``safe_regex``
therefore admits a pattern only if RE2 accepts it (no backreferences, lookarounds, possessive or atomic groups
...), if it lies in the syntax all three engines read alike (so it reaches the store unchanged and a filter means
the same on the counters and in the store), and if it avoids the shapes that make a backtracking engine
exponential. That last check cannot be complete (a backtracking engine is polynomial on ordinary patterns over
long values): the time limit of every store read (``STORE_MAX_TIME_MS``) is the bound behind it. Pure.
"""

from __future__ import annotations

import re
import string
from typing import Any

import re2

from .schemas import BadInput
from .vocabulary import bad, check_text, shown

MAX_REGEX = 256
MAX_CHOICES = 8  # alternations and variable repeats in one pattern: each multiplies a backtracking engine's work
# Memory of one compiled pattern (RE2's default: 8 MiB). The re2 module caches 128 compiled patterns, so a client
# sending distinct patterns holds at most 128 MiB; a pattern that needs more (".{1000}" 36 times) is refused.
RE2_MEMORY = 1 << 20
REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
FLAGS = re.compile(r"\?([ims]*)(?:-([ims]+))?([:)])")
CLASS_ESCAPES = frozenset("dDwWsS")  # character classes: the same in RE2, PCRE2 and Python (ASCII vs Unicode aside)
CHAR_ESCAPES = frozenset("tnrf")  # one character each, read alike everywhere (\v is not: a class in PCRE2)
ASSERTIONS = frozenset("bBAz")  # zero-width: never repeated
PUNCTUATION = frozenset(string.punctuation + " ")  # escaped, a literal character in every engine
HEX = frozenset(string.hexdigits)
QUANTIFIERS = {"*": (0, None), "+": (1, None), "?": (0, 1)}


def re2_options(ignore_case: bool = False) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the client's mistake, not something to log to stderr
    options.case_sensitive = not ignore_case
    options.max_mem = RE2_MEMORY
    return options


VALIDATION = re2_options()


def safe_regex(pattern: str, name: str) -> str:
    """A user's pattern, checked for every engine that evaluates it (see the module's notes); returned as given."""
    if len(pattern) > MAX_REGEX:
        raise bad(name, f"{name}: a regular expression may be at most {MAX_REGEX} characters")
    if "\x00" in pattern:  # MongoDB refuses a pattern holding NUL
        raise bad(name, f"{name}: a regular expression must not contain a NUL character")
    check_text(pattern, name)
    try:
        re2.compile(pattern, VALIDATION)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise bad(name, f"{name}: regular expression {shown(pattern)} is not supported: {reason} "
                        "(RE2 syntax: no backreferences, lookarounds, possessive or atomic groups)") from None
    PatternCheck(pattern, name).run()
    return pattern


def literal(text: str) -> str:
    """A pattern matching exactly ``text``, in the syntax every engine reads alike (control characters as \\xHH:
    MongoDB refuses a pattern holding NUL)."""
    return "".join("\\" + c if c in PUNCTUATION else f"\\x{ord(c):02x}" if ord(c) < 0x20 or c == "\x7f" else c
                   for c in text)


def user_regex(pattern: Any, options: Any) -> Any | None:
    """A pattern that passed ``safe_regex``, compiled for evaluation in this process with RE2 (linear in the input,
    whatever the pattern). ``options`` are MongoDB's ``$options`` letters; None when they or the pattern are not
    ones alertbus admits (the caller then leaves the evaluation to the store)."""
    if not isinstance(pattern, str) or not isinstance(options, str) or not set(options) <= set("ims"):
        return None
    inline = "".join(sorted(set(options) - {"i"}))
    try:
        return re2.compile((f"(?{inline})" if inline else "") + pattern, re2_options("i" in options))
    except (re2.error, UnicodeEncodeError):
        return None


class PatternCheck:
    """Walks a pattern RE2 accepted. Refuses what RE2, PCRE2 and Python's ``re`` read differently (so that the
    pattern reaches the store unchanged and means there what it means to RE2), and the shapes that make a
    backtracking engine exponential: a repeated subexpression that itself alternates or repeats (``(a|aa)+``,
    ``((a+))+``, ``(\\w+\\s?)*``), and more than ``MAX_CHOICES`` alternations and variable repeats in all."""

    def __init__(self, pattern: str, param: str) -> None:
        self.p, self.i, self.param, self.choices = pattern, 0, param, 0

    def fail(self, why: str) -> BadInput:
        return bad(self.param, f"{self.param}: regular expression {shown(self.p)} {why}")

    def peek(self, ahead: int = 0) -> str:
        return self.p[self.i + ahead] if self.i + ahead < len(self.p) else ""

    def run(self) -> None:
        self.alternation()
        if self.i < len(self.p):
            raise self.fail("has an unbalanced ')'")
        if self.choices > MAX_CHOICES:
            raise self.fail(f"has more than {MAX_CHOICES} alternations and variable repeats (each one multiplies "
                            "the work of the store's backtracking engine)")

    def alternation(self) -> bool:
        """Branches up to a ``)`` or the end; whether they hold a choice (an alternation or a variable repeat)."""
        choice = self.sequence()
        branches = 1
        while self.peek() == "|":
            self.i += 1
            branches += 1
            choice = self.sequence() or choice
        if branches > 1:
            self.choices += 1
        return choice or branches > 1

    def sequence(self) -> bool:
        choice = False
        while self.peek() not in ("", "|", ")"):
            inner, repeatable = self.atom()
            low, high = self.quantifier()
            if (low, high) != (1, 1):
                if not repeatable:
                    raise self.fail("repeats an anchor, an assertion or a flag group")
                if inner and (high is None or high > 1):
                    raise self.fail("repeats a group that itself repeats or alternates (such as (a+)+ or (a|aa)+), "
                                    "which takes exponential time in a backtracking engine; use a character class "
                                    "or a single repeat")
                if high != low:
                    self.choices += 1
                    inner = True
            choice = choice or inner
        return choice

    def quantifier(self) -> tuple[int, int | None]:
        c = self.peek()
        if c in QUANTIFIERS:
            self.i += 1
            low, high = QUANTIFIERS[c]
        elif c == "{":
            found = REPEAT.match(self.p, self.i)
            if found is None:
                raise self.fail("has a '{' that is not a repeat {n}, {n,} or {n,m}; write a literal one as \\{")
            self.i = found.end()
            low = int(found[1])
            high = low if found[2] is None else int(found[3]) if found[3] else None
        else:
            return 1, 1
        if self.peek() == "?":  # lazy
            self.i += 1
        if self.peek() in ("*", "+", "?", "{"):
            raise self.fail("repeats a repeat")
        return low, high

    def atom(self) -> tuple[bool, bool]:
        """One atom: (whether it holds a choice, whether it may be repeated)."""
        c = self.peek()
        self.i += 1
        if c == "(":
            return self.group()
        if c == "[":
            self.char_class()
            return False, True
        if c == "\\":
            return False, self.escape(in_class=False)
        if c == "{":
            raise self.fail("has a '{' that is not a repeat; write a literal one as \\{")
        return False, c not in ("^", "$")

    def group(self) -> tuple[bool, bool]:
        start = self.i - 1
        if self.peek() == "?":
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.p.startswith("?P<", self.i) and ">" in self.p[self.i:]:
                self.i = self.p.index(">", self.i) + 1
            else:
                flags = FLAGS.match(self.p, self.i)
                if flags is None or not (flags[1] or flags[2]):
                    raise self.fail("uses a group (?…) other than (?:…), (?P<name>…) and the flags i, m, s")
                self.i = flags.end()
                if flags[3] == ")":  # flags for the rest of the pattern: Python's re takes them at the start only
                    if start != 0 or flags[2]:
                        raise self.fail("sets flags (?…) after its start; use a scoped group such as (?i:…)")
                    return False, False
        choice = self.alternation()
        if self.peek() != ")":
            raise self.fail("has an unclosed '('")
        self.i += 1
        return choice, True

    def char_class(self) -> None:
        if self.peek() == "^":
            self.i += 1
        first = True
        while True:
            c = self.peek()
            if c == "":
                raise self.fail("has an unclosed '['")
            if c == "]" and not first:
                self.i += 1
                return
            if c == "[":  # [[:alpha:]] is a POSIX class in RE2 and PCRE2, a nested set to Python
                raise self.fail("has a '[' inside […]; write it as \\[")
            single = self.class_member()
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                if not (single and self.class_member()):
                    raise self.fail("has a range whose end is a class such as \\d")
            first = False

    def class_member(self) -> bool:
        """One member of a character class; whether it is a single character (so may end a range)."""
        c = self.peek()
        self.i += 1
        if c != "\\":
            return True
        return self.escape(in_class=True)

    def escape(self, in_class: bool) -> bool:
        """The escape after a backslash: whether it stands for one character (in a class) or may be repeated."""
        c = self.peek()
        self.i += 1
        if c in CLASS_ESCAPES:
            return not in_class
        if c in CHAR_ESCAPES or c in PUNCTUATION:
            return True
        if c == "x" and self.peek() in HEX and self.peek(1) in HEX:
            self.i += 2
            return True
        if c in ASSERTIONS and not in_class:
            return False
        raise self.fail(f"uses the escape \\{c}, which RE2 and the store do not read alike; use one of "
                        "\\d \\w \\s \\D \\W \\S \\b \\B \\A \\z \\t \\n \\r \\f \\xHH or an escaped punctuation mark")
