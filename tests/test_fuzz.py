"""Fuzzing the HTTP API against a small stack of its own (its own database and broker namespace): schemathesis
generates requests from the OpenAPI description that the gateway serves at ``/openapi.json`` — valid ones, and
invalid ones in its negative mode — and hypothesis generates arbitrary JSON bodies (any value in any field, raw
bytes) for the write routes. Whatever a client sends, no request may get a 5xx."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok

from .support import ADMIN_KEY, Stack, start_stack

EXAMPLES = 40  # per operation and generation mode
BODIES = 300  # hypothesis-generated bodies for the write routes


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)
    unsendable: int = 0  # requests the HTTP client refused to send (e.g. a header it cannot encode)
    server_errors: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())


@pytest_asyncio.fixture(scope="module")
async def fuzz_stack(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url, RPC_TIMEOUT="5") as stack:
        yield stack


def fuzz(spec: dict[str, Any], base_url: str) -> Outcome:
    """Every operation of the description, positive and negative, ``EXAMPLES`` cases each (reproducibly)."""
    schema = schemathesis.openapi.from_dict(spec)
    outcome = Outcome()
    with requests.Session() as session:
        def send(case: Case[Any]) -> None:
            # Authenticated: the key generated for the security scheme would only ever meet the 401 check.
            case.headers = CaseInsensitiveDict[str](case.headers or {})
            case.headers["X-API-Key"] = ADMIN_KEY
            try:
                response = case.call(base_url=base_url, session=session, timeout=30)
            except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError, ValueError):
                outcome.unsendable += 1
                return
            outcome.statuses[response.status_code] += 1
            if response.status_code >= 500:
                outcome.server_errors.append(f"{case.method} {case.formatted_path} query={case.query!r} "
                                             f"body={case.body!r:.300} -> {response.status_code} {response.text:.300}")

        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result.err()
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                               phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))(
                    given(operation.as_strategy(generation_mode=mode))(send))
                run()
    return outcome


async def test_fuzzed_requests_never_get_aserver_error(fuzz_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    status, spec = await fuzz_stack.request("GET", "/openapi.json", auth=False)
    assert status == 200 and spec["openapi"].startswith("3.")
    # In a thread: the services answer on this test's event loop, and the fuzzer's client blocks.
    outcome = await asyncio.to_thread(fuzz, spec, fuzz_stack.url)
    with capsys.disabled():  # shown in every run, passing or not
        print(f"\nfuzz (schemathesis): {outcome.sent} requests over {len(spec['paths'])} paths, statuses "
              f"{dict(sorted(outcome.statuses.items()))}, {outcome.unsendable} not sendable, "
              f"{len(outcome.server_errors)} with a 5xx")
    assert outcome.sent >= 300
    assert not outcome.server_errors, outcome.server_errors[:10]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
ALERT_FIELDS = ["resource", "event", "environment", "severity", "correlate", "status", "service", "group", "value",
                "text", "tags", "attributes", "origin", "type", "createTime", "timeout", "rawData"]
VALID = {"resource": "fuzz", "event": "Fuzzed", "environment": "Production", "service": ["fuzz"]}
BODY = st.one_of(
    st.fixed_dictionaries({}, optional={name: JSON for name in ALERT_FIELDS}).map(lambda b: {**VALID, **b}),
    JSON,
    st.binary(max_size=64),
)
PATHS = ["/alert", "/heartbeat", "/alert/{id}/status", "/alert/{id}/tag", "/alert/{id}/action", "/alert/{id}/note",
         "/alert/{id}/attributes"]


def fuzz_bodies(base_url: str, alert_id: str) -> Outcome:
    outcome = Outcome()
    with requests.Session() as session:
        @settings(max_examples=BODIES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(path=st.sampled_from(PATHS), body=BODY, prefer=st.booleans())
        def send(path: str, body: Any, prefer: bool) -> None:
            headers = {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"}
            if prefer:
                headers["Prefer"] = "respond-async"
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            method = "POST" if path in ("/alert", "/heartbeat") else "PUT"
            response = session.request(method, base_url + path.format(id=alert_id), data=data, headers=headers,
                                       timeout=30)
            outcome.statuses[response.status_code] += 1
            if response.status_code >= 500:
                outcome.server_errors.append(f"{method} {path} body={data!r:.300} -> {response.status_code} "
                                             f"{response.text:.300}")

        send()
    return outcome


async def test_arbitrary_bodies_never_get_aserver_error(fuzz_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    status, created = await fuzz_stack.post_alert({**VALID, "resource": "fuzz-target"})
    assert status == 201
    outcome = await asyncio.to_thread(fuzz_bodies, fuzz_stack.url, created["id"])
    with capsys.disabled():
        print(f"\nfuzz (hypothesis bodies): {outcome.sent} requests, statuses "
              f"{dict(sorted(outcome.statuses.items()))}, {len(outcome.server_errors)} with a 5xx")
    assert outcome.sent >= BODIES * 0.9
    assert not outcome.server_errors, outcome.server_errors[:10]
