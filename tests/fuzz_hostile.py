"""Hostile input, generated: the values a security review found breaking promises (lone surrogates, control
characters, extreme nesting, huge arrays, out-of-range dates, backtracking regexes, dot-segment paths, odd
headers), put by a seeded generator into every input path — bodies of every write, filters and ``q`` of every
read, paths, headers — and into AMQP messages published straight to the broker beside valid ones.

Deterministic for a seed, so that a failure can be replayed: ``FUZZ_SEED``."""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

SURROGATES = ["\ud800", "\udfff", "a\udc80b", "\ud83d"]  # valid JSON escapes, not encodable as UTF-8
CONTROL = ["line\nFAKE: forged", "cr\rhere", "nul\x00byte", "tab\tand\x1b[31mansi", "\x7f\x85\u2028"]
DATES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00Z", "99999-01-01T00:00:00Z",
         "2026-13-45T25:61:61Z", "2026-02-30", "1970-01-01T00:00:00Z", "not a date", "", "2026-12-06T03:00:00.123Z"]
REGEXES = ["(a|aa)+$", "((a+))+", "(?:(a+))+", "(a+)+b", "(.*a){20}", "(?x) a # comment", "(a)\\1", "(?=a)b",
           "(?<!a)b", "[", "a{99999}", "\\", "(?i)web", "web.*", "^$", "a" * 300]
QUERY_FIELDS = ["resource", "event", "environment", "severity", "status", "service", "group", "value", "text",
                "tags", "origin", "type", "id", "customer", "attributes.x", "attributes.a\x00b", "attributes.",
                "attributes.$where", "attributes.a.b.c", "nosuchfield", "from-date", "to-date", "sort-by",
                "page", "page-size", "limit", "reverse", "show-history", "group-by", "q"]
ALERT_FIELDS = ["resource", "event", "environment", "severity", "correlate", "status", "service", "group", "value",
                "text", "tags", "attributes", "origin", "type", "createTime", "timeout", "rawData"]
VALID_ALERT = {"resource": "fuzz", "event": "Fuzzed", "environment": "Production", "service": ["fuzz"],
               "severity": "minor"}
READ_PATHS = ["/alerts", "/alerts/count", "/alerts/top10", "/alerts/top10/count", "/alerts/top10/flapping",
              "/alerts/history", "/environments", "/services", "/alerts/tags", "/heartbeats", "/api/alerts"]
OPEN_PREFIXES = ["/_", "/management", "/management/gtg", "/config", "/metrics", "/openapi.json", "/api/_",
                 "/api/management", "/x", ""]
DOTS = ["..", "%2e%2e", "%2E%2e", ".%2e", "%2e.", "..%2f", "%2e%2e%2f", "..%5c", "%252e%252e", ".", "%2e",
        "..;", "%c0%ae%c0%ae", "%e0%80%ae"]


@dataclass(frozen=True)
class Nested:
    depth: int

    def raw(self) -> str:
        opened = "".join("[" if n % 2 else '{"k":' for n in range(self.depth))
        closed = "".join("]" if n % 2 else "}" for n in reversed(range(self.depth)))
        return opened + '"leaf"' + closed


def dumps(value: Any) -> bytes:
    """JSON as a client sends it (lone surrogates as \\ud800 escapes), with every ``Nested`` expanded."""
    found: list[Nested] = []

    def placeholder(item: object) -> str:
        if isinstance(item, Nested):
            found.append(item)
            return f"@@nested-{len(found) - 1}@@"
        raise TypeError(type(item).__name__)

    text = json.dumps(value, ensure_ascii=True, allow_nan=True, default=placeholder)
    for index, item in enumerate(found):
        text = text.replace(f'"@@nested-{index}@@"', item.raw(), 1)
    return text.encode()


@dataclass
class Request:
    method: str
    path: str  # already percent-encoded as sent (the client must not normalise it)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)  # sent as bytes, possibly not UTF-8
    keyed: bool = True
    kind: str = ""


class Hostile:
    """A seeded generator of hostile values and of requests carrying them."""

    def __init__(self, seed: int, alert_ids: list[str]) -> None:
        self.rng = random.Random(seed)
        self.q_rng = random.Random(seed + 1)
        self.alert_ids = alert_ids

    # -- values ------------------------------------------------------------------------------------

    def text(self) -> str:
        r = self.rng
        choice = r.randrange(8)
        if choice == 0:
            return r.choice(SURROGATES)
        if choice == 1:
            return r.choice(CONTROL)
        if choice == 2:
            return "x" * r.choice([1025, 4097, 65_537, 300_000, 900_000])
        if choice == 3:
            return r.choice(DATES)
        if choice == 4:
            return r.choice(REGEXES)
        if choice == 5:
            return "".join(r.choice(string.printable) for _ in range(r.randrange(1, 40)))
        if choice == 6:
            return "".join(chr(r.randrange(0x80, 0x2FFFF)) for _ in range(r.randrange(1, 20)))
        return r.choice(["", " ", "$where", "a.b", "__proto__", "<script>alert(1)</script>", "%00", "\u202e"])

    def query_string(self) -> str:
        """``q`` in Alerta's query-string syntax, hostile: deep, long, many terms, bad regexes, odd text. Drawn from
        a generator of its own, so that the other requests of a seed stay what they were."""
        r = self.q_rng
        depth = r.choice([33, 1000, 3000])
        odd = r.choice(SURROGATES + CONTROL + DATES + REGEXES + ["x" * 5000, "é\u202e", "$where", "a.b"])
        return r.choice([
            "(" * depth + "a" + ")" * depth, "NOT " * depth + "a", "-" * depth + "a", "a:" * depth + "b",
            " OR ".join(["tags:a"] * r.choice([257, 1000])), "resource:/" + r.choice(REGEXES) + "/",
            "resource:" + "*a" * r.randrange(1, 20), f"timeout:[{odd} TO *]", f"createTime:{{{odd} TO *]",
            f"attributes.{odd}:x", f"_exists_:{odd}", f'resource:"{odd}"', f"{odd}~2", f"resource:{odd}", odd,
        ])

    def nested(self) -> Any:
        """A value nested 33 to 20,000 levels: a placeholder that ``dumps`` replaces by the raw JSON (the
        standard library's encoder itself stops at about 1,000 levels)."""
        depth = self.rng.choice([33, 100, 999, 1001, 5000, 20_000])
        return Nested(depth)

    def huge_array(self) -> list[Any]:
        size = self.rng.choice([1001, 10_000, 100_000])
        item: Any = self.rng.choice(["t", 1, None, {}, []])
        return [item] * size

    def value(self) -> Any:
        r = self.rng
        choice = r.randrange(10)
        if choice < 4:
            return self.text()
        if choice == 4:
            return self.nested()
        if choice == 5:
            return self.huge_array()
        if choice == 6:
            return r.choice([2**70, -(2**70), 1e308, -0.0, True, None, 0, -1])
        if choice == 7:
            return [self.text() for _ in range(r.randrange(1, 5))]
        if choice == 8:
            return {self.text()[:50]: self.text()[:200] for _ in range(r.randrange(1, 4))}
        return {"$gt": "", "$where": "sleep(10000)", "a.b": 1}

    # -- requests ----------------------------------------------------------------------------------

    def body(self, base: dict[str, Any], fields: list[str]) -> bytes:
        r = self.rng
        data = dict(base)
        for name in r.sample(fields, min(len(fields), r.randrange(1, 3))):
            data[name] = self.value()
        if r.random() < 0.05:
            return b'{"resource": "a", "nested": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        if r.random() < 0.05:
            return r.choice([b"\xff\xfe{}", b'{"resource": "\xed\xa0\x80"}', b"NaN", b'{"a": NaN}', b"[]", b"1"])
        return dumps(data)

    def write(self) -> Request:
        r = self.rng
        target = r.choice(self.alert_ids)
        choice = r.randrange(10)
        headers = {"Content-Type": "application/json"}
        if choice < 4:
            if r.random() < 0.3:
                headers["Prefer"] = "respond-async"
            # A resource of its own, so that every accepted alert can be found afterwards by its id.
            base = {**VALID_ALERT, "resource": f"fuzz-{r.getrandbits(64):x}"}
            return Request("POST", "/alert", self.body(base, ALERT_FIELDS), headers, kind="alert")
        if choice == 4:
            base = {"origin": "fuzz/heartbeat", "tags": ["fuzz"]}
            return Request("POST", "/heartbeat", self.body(base, ["origin", "tags", "attributes", "createTime",
                                                                   "timeout"]), headers, kind="heartbeat")
        if choice == 5:
            return Request(r.choice(["PUT", "POST"]), f"/alert/{target}/status",
                           self.body({"status": "ack"}, ["status", "text", "timeout"]), headers, kind="status")
        if choice == 6:
            return Request("PUT", f"/alert/{target}/action",
                           self.body({"action": "ack"}, ["action", "text", "timeout"]), headers, kind="action")
        if choice == 7:
            route = r.choice(["tag", "untag", "note", "attributes"])
            bodies: dict[str, dict[str, Any]] = {"note": {"text": "n"}, "attributes": {"attributes": {"a": 1}}}
            valid = bodies.get(route, {"tags": ["a"]})
            fuzzed = ["text", "note"] if route == "note" else list(valid)
            return Request("PUT", f"/alert/{target}/{route}", self.body(valid, fuzzed), headers,
                           kind="tag" if route == "untag" else route)
        if choice == 8:
            return Request("POST", "/key", self.body({"scopes": ["read"]}, ["user", "text", "scopes", "expireTime",
                                                                             "key"]), headers, kind="key")
        return Request("POST", "/user", self.body({"user": "a@example.com"}, ["user", "sponsor"]), headers,
                       kind="user")

    def param(self) -> tuple[str, str]:
        r = self.rng
        name = r.choice(QUERY_FIELDS)
        if name == "q":
            doc = r.choice([
                {"resource": {"$regex": r.choice(REGEXES), "$options": r.choice(["i", "x", "s", "ix", ""])}},
                {"createTime": {"$gt": {"$date": r.choice(DATES)}}},
                {"lastReceiveTime": {"$lt": r.choice(DATES)}},
                {"$where": "sleep(1000)"}, {"$expr": {"$eq": [1, 1]}}, {"text": self.value()},
                {"$and": [self.nested()]}, {"$or": self.huge_array()[:5000]},
            ])
            value = r.choice([dumps(doc).decode(), "resource:web01", "{", "null", self.text()[:500]])
            if self.q_rng.random() < 0.4:
                value = self.query_string()
        elif name in ("from-date", "to-date"):
            value = r.choice(DATES)
        else:
            value = r.choice(["~" + r.choice(REGEXES), "!" + self.text()[:200], self.text()[:200], r.choice(DATES),
                              "-1", "0", "1001", "99999999999999999999"])
        if r.random() < 0.5 and not name.startswith("attributes"):
            name = name + r.choice(["", "!", "~"])
        return name, value

    def read(self) -> Request:
        r = self.rng
        params = [self.param() for _ in range(r.randrange(1, 4))]
        query = "&".join(f"{quote(n, safe='', errors='surrogatepass')}={quote(v, safe='', errors='surrogatepass')}"
                         for n, v in params)
        if r.random() < 0.1:  # raw bytes in the query string: not UTF-8, lone surrogates encoded
            query += r.choice(["&resource=%ff%fe", "&resource=%ed%a0%80", "&attributes.%00=1", "&%=%", "&a=%zz"])
        path = r.choice(READ_PATHS)
        if r.random() < 0.1:
            path = f"/alert/{r.choice(self.alert_ids + ['x', '%00', '%ed%a0%80', 'a' * 300])}"
        return Request("GET", f"{path}?{query}", kind="read")

    def dotted(self) -> Request:
        r = self.rng
        read = r.choice(READ_PATHS + [f"/alert/{r.choice(self.alert_ids)}", f"/alert/{r.choice(self.alert_ids)}/raw",
                                      f"/alert/{r.choice(self.alert_ids)}/history"]).lstrip("/")
        dots = "/".join(r.choice(DOTS) for _ in range(r.randrange(1, 3)))
        return Request("GET", f"{r.choice(OPEN_PREFIXES)}/{dots}/{read}", keyed=r.random() < 0.3, kind="dots")

    def headers(self) -> Request:
        r = self.rng
        name, value = r.choice([
            (b"X-Request-ID", r.choice([b"\xff\xfe", b"\xed\xa0\x80", b"x" * 500, b"a b", b"\xc3\xa9"])),
            (b"Authorization", r.choice([b"Key \xff", b"Key " + b"k" * 5000, b"Bearer x", b"Key", b"\xed\xa0\x80"])),
            (b"X-API-Key", r.choice([b"\xff\xfe", b"\x00", b"k" * 5000])),
            (b"Prefer", b"respond-async\xff"), (b"Origin", b"http://\xff.example"),
            (b"X-Forwarded-Host", b"evil.example"), (b"Content-Type", b"application/json; charset=\xff"),
        ])
        keyed = name not in (b"Authorization", b"X-API-Key")
        body = json.dumps({**VALID_ALERT, "resource": "fuzz-headers"}).encode()
        method, path = r.choice([("GET", "/alerts"), ("POST", "/alert"), ("GET", "/_")])
        return Request(method, path, body if method == "POST" else None, {"Content-Type": "application/json"},
                       [(name, value)], keyed=keyed, kind="headers")

    def request(self) -> Request:
        choice = self.rng.random()
        if choice < 0.45:
            return self.write()
        if choice < 0.8:
            return self.read()
        if choice < 0.92:
            return self.dotted()
        return self.headers()

    # -- AMQP ---------------------------------------------------------------------------------------

    def bad_message(self) -> tuple[bytes, str, dict[str, Any]]:
        """A message body, its type and headers that the worker must dead-letter alone."""
        r = self.rng
        choice = r.randrange(8)
        if choice == 0:
            return r.choice([b"{not json", b"\xff\xfe", b"", b"[]", b"null"]), "alert", {}
        if choice == 1:
            return json.dumps({**VALID_ALERT, "createTime": r.choice(DATES[:5])}).encode(), "alert", {}
        if choice == 2:
            field_name = r.choice(["resource", "event", "text", "origin"])
            return json.dumps({**VALID_ALERT, field_name: r.choice(SURROGATES)}).encode(), "alert", {}
        if choice == 3:
            return json.dumps({**VALID_ALERT, "severity": "apocalyptic"}).encode(), "alert", {}
        if choice == 4:
            return json.dumps({"origin": r.choice(SURROGATES)}).encode(), "heartbeat", {}
        if choice == 5:
            return json.dumps({"op": "explode", "id": "x"}).encode(), "command", {}
        if choice == 6:
            return json.dumps(VALID_ALERT).encode(), r.choice(["bogus", "ALERT", "\x00"]), {}
        return dumps({**VALID_ALERT, "attributes": self.nested()}), "alert", {}
