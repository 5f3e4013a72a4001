"""The console over HTTP, through the real stack: its page and files (open, with the security headers), and the
live stream (``GET /stream``: keyed, fed by the broker's events exchange, bounded per stream). The browser
itself is driven in tests/test_console_browser.py."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import pytest

from services.gateway import stream as stream_module
from services.gateway.console.assets import ASSETS
from services.gateway.stream import BUFFER_FRAMES, HUB, RESYNC, Subscriber, frame, visible
from services.ingest.settle import coalesced
from shared.auth import Principal
from shared.broker import Names

from .support import Stack, alert, assert_error, unique

CSP_PARTS = ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'")


def assert_console_headers(headers: Any) -> None:
    policy = headers["Content-Security-Policy"]
    assert all(part in policy for part in CSP_PARTS), policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


async def test_console_page_opens_without_a_key_at_root_and_under_api(stack: Stack) -> None:
    for path in ("/", "/api/"):
        async with stack.session.get(stack.url + path) as resp:
            body = await resp.text()
            assert resp.status == 200 and resp.content_type == "text/html"
            assert_console_headers(resp.headers)
        assert '<script type="module" src="console/main.js">' in body  # relative: works under any prefix
        assert "<script>" not in body and " style=" not in body  # nothing inline for the policy to allow


async def test_api_without_its_slash_redirects_to_the_console_page_keeping_the_query(stack: Stack) -> None:
    for query in ("", "?status=open&q=a%20b"):
        async with stack.session.get(f"{stack.url}/api{query}", allow_redirects=False) as resp:
            assert resp.status == 301 and resp.headers["Location"] == f"api/{query}", resp.headers
        async with stack.session.get(f"{stack.url}/api{query}") as resp:  # a key is needed nowhere on the way
            assert resp.status == 200 and resp.content_type == "text/html"
            assert str(resp.url) == f"{stack.url}/api/{query}"
            assert_console_headers(resp.headers)
    status, body = await stack.request("POST", "/api", {"x": 1})  # the page's methods only, as on /
    assert status == 405 and body["status"] == "error"
    status, body = await stack.request("GET", "/api/api", auth=False)  # registered once, never under /api
    assert_error(status, body, 401, "authentication required")


async def test_console_files_are_served_with_their_types_and_revalidated(stack: Stack) -> None:
    expected = {"main.js": "text/javascript", "stream.js": "text/javascript", "console.css": "text/css"}
    for name, content_type in expected.items():
        async with stack.session.get(f"{stack.url}/api/console/{name}") as resp:
            assert resp.status == 200 and resp.content_type == content_type
            assert await resp.read() == ASSETS[name].body
            assert_console_headers(resp.headers)
            etag = resp.headers["ETag"]
        async with stack.session.get(f"{stack.url}/console/{name}", headers={"If-None-Match": etag}) as resp:
            assert resp.status == 304
    assert not [name for name, asset in ASSETS.items() if b"innerHTML" in asset.body or b"eval(" in asset.body]


async def test_console_refuses_unknown_files_and_methods_with_json(stack: Stack) -> None:
    status, body = await stack.request("GET", "/console/app.py", auth=False)
    assert_error(status, body, 404, "not found")
    status, body = await stack.request("GET", "/console/..%2f..%2fsettings.py", auth=False)
    assert status == 400 and body["status"] == "error"
    status, body = await stack.request("POST", "/", {"x": 1})
    assert status == 405 and body["status"] == "error"


async def test_stream_needs_a_valid_key(stack: Stack) -> None:
    status, body = await stack.request("GET", "/stream", auth=False)
    assert_error(status, body, 401, "authentication required")
    status, body = await stack.request("GET", "/stream", auth=False, headers={"Authorization": "Key not-a-key"})
    assert_error(status, body, 401, "invalid")


@dataclass
class Event:
    name: str
    data: dict[str, Any]


class Sse:
    """A ``GET /stream`` read as the browser reads it: blocks separated by a blank line."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp
        self.retry: int | None = None

    async def next(self, timeout: float = 10.0) -> Event:
        name, data = "message", list[str]()
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.resp.content.readline()).decode()
                if not line:
                    raise EOFError("the stream ended")
                line = line.rstrip("\n")
                if not line:
                    if data:
                        return Event(name, json.loads("\n".join(data)))
                    continue
                field, _, value = line.partition(": ")
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
                elif field == "retry":
                    self.retry = int(value)

    async def until(self, test: Callable[[dict[str, Any]], bool], timeout: float = 15.0) -> Event:
        """The first ``alert`` event ``test`` accepts (others, from the session's other tests, are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            event = await self.next(max(deadline - time.monotonic(), 0.01))
            if event.name == "alert" and test(event.data):
                return event


async def open_stream(stack: Stack, session: aiohttp.ClientSession | None = None) -> Sse:
    resp = await (session or stack.session).get(stack.url + "/stream", headers=stack.auth)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert_console_headers(resp.headers)
    sse = Sse(resp)
    ready = await sse.next()
    assert ready.name == "ready" and sse.retry is not None and sse.retry > 0
    return sse


async def test_stream_carries_every_change_of_an_alert(stack: Stack) -> None:
    sse = await open_stream(stack)
    try:
        resource = unique()

        def of_resource(kind: str) -> Callable[[dict[str, Any]], bool]:
            return lambda d: bool(d["event"] == kind and d["alert"]["resource"] == resource)

        status, body = await stack.post_alert(alert(resource, rawData="x" * 1000))
        assert status == 201
        new = await sse.until(of_resource("created"))
        assert new.data["alert"]["id"] == body["id"] and new.data["alert"]["status"] == "open"
        assert "rawData" not in new.data["alert"] and "history" not in new.data["alert"]
        await stack.post_alert(alert(resource))  # a duplicate: no notifier event, but the console shows it
        duplicate = await sse.until(of_resource("updated"))
        assert duplicate.data["alert"]["duplicateCount"] == 1
        status, _ = await stack.request("PUT", f"/alert/{body['id']}/action", {"action": "ack"})
        assert status == 200
        assert (await sse.until(of_resource("status"))).data["alert"]["status"] == "ack"
        await stack.request("PUT", f"/alert/{body['id']}/tag", {"tags": ["console"]})
        assert (await sse.until(of_resource("updated"))).data["alert"]["tags"] == ["console"]
        await stack.request("DELETE", f"/alert/{body['id']}")
        assert (await sse.until(of_resource("deleted"))).data["alert"]["id"] == body["id"]
    finally:
        sse.resp.close()


async def test_notifiers_bound_to_alert_events_never_see_console_updates(stack: Stack) -> None:
    """Duplicates and tag changes go out as ``update.alert``, outside ``alert.#``, so the PagerDuty notifier's
    queue gets exactly what it got before the console existed."""
    connection = await aio_pika.connect_robust(stack.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(Names.from_settings(stack.settings).events)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, "alert.#")
        resource = unique()
        for _ in range(3):
            assert (await stack.post_alert(alert(resource)))[0] == 201
        kinds = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            message = await queue.get(fail=False)
            if message is None:
                await asyncio.sleep(0.1)
                continue
            event = json.loads(message.body)
            if event["alert"]["resource"] == resource:
                kinds.append(event["event"])
        assert kinds == ["created"]


async def test_a_stream_ends_when_its_key_is_revoked(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_module, "RECHECK_SECONDS", 0.2)
    monkeypatch.setattr(stream_module, "PING_SECONDS", 0.2)
    status, created = await stack.request("POST", "/key", {"user": "watcher@example.com", "scopes": ["read"]})
    assert status == 201, created
    resp = await stack.session.get(stack.url + "/stream", headers={"Authorization": f"Key {created['key']}"})
    sse = Sse(resp)
    try:
        assert (await sse.next()).name == "ready"
        assert (await stack.request("DELETE", f"/key/{created['data']['id']}"))[0] == 200
        async with asyncio.timeout(10):
            names = [(await sse.next()).name]
            while names[-1] != "unauthorized":
                names.append((await sse.next()).name)
        assert await resp.content.read() == b""  # and the stream ended
    finally:
        resp.close()


async def test_a_client_that_goes_away_ends_its_stream_quietly(
        stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A closed tab is how every stream ends: no error logged, no 500 tried on a closed connection, and the
    stream's subscription is gone."""
    monkeypatch.setattr(stream_module, "PING_SECONDS", 0.1)
    hub = next(runner.app[HUB] for runner in stack.runners if HUB in runner.app)
    before = len(hub.subscribers)
    async with aiohttp.ClientSession() as session:  # its own: closing it closes the connection for good
        await open_stream(stack, session)
        assert len(hub.subscribers) == before + 1
    async with asyncio.timeout(10):  # the next ping finds the connection gone
        while len(hub.subscribers) > before:
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # anything the handler would log on its way out
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "stream" in r.getMessage()], \
        caplog.text
    assert "unhandled error" not in caplog.text


async def test_many_streams_each_get_every_change(stack: Stack) -> None:
    streams = 100
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        opened = await asyncio.gather(*(open_stream(stack, session) for _ in range(streams)))
        try:
            resource = unique()
            started = time.monotonic()
            assert (await stack.post_alert(alert(resource)))[0] == 201
            events = await asyncio.gather(*(s.until(lambda d: d["alert"]["resource"] == resource) for s in opened))
            assert {e.data["event"] for e in events} == {"created"} and len(events) == streams
            assert time.monotonic() - started < 5
        finally:
            for sse in opened:
                sse.resp.close()


def test_a_slow_reader_gets_one_resync_instead_of_an_unbounded_buffer() -> None:
    subscriber = Subscriber(Principal("someone", frozenset({"read"})))
    data = frame("alert", {"event": "created", "alert": {"id": "x"}})
    for _ in range(BUFFER_FRAMES):
        subscriber.push(data)
    assert len(subscriber.frames) == BUFFER_FRAMES
    subscriber.push(data)
    assert list(subscriber.frames) == [RESYNC] and subscriber.resyncs == 1


def test_each_stream_sees_only_what_its_principal_may_see() -> None:
    alert_body = {"id": "a", "customer": "acme"}
    assert visible(Principal("reader", frozenset({"read"})), alert_body)
    assert visible(Principal("reader", frozenset({"read:alerts"})), alert_body)
    assert not visible(Principal("keys only", frozenset({"read:keys"})), alert_body)
    assert not visible(Principal("nobody", frozenset()), alert_body)
    assert visible(Principal("u", frozenset({"read"}), None, frozenset({"acme"})), alert_body)
    assert not visible(Principal("u", frozenset({"read"}), None, frozenset({"other"})), alert_body)
    assert visible(Principal("admin", frozenset({"read"})), alert_body)  # no customers: every alert


def test_every_console_file_is_served_and_shipped_in_the_package() -> None:
    static = Path(__file__).resolve().parent.parent / "services" / "gateway" / "console" / "static"
    assert sorted(ASSETS) == sorted(p.name for p in static.iterdir())
    pyproject = tomllib.loads((static.parents[3] / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["package-data"]["services.gateway.console"] == ["static/*"]


def test_a_burst_of_duplicates_is_one_update_event_per_alert() -> None:
    def updated(ident: str, count: int) -> dict[str, Any]:
        return {"event": "updated", "alert": {"id": ident, "duplicateCount": count}}

    created = {"event": "created", "alert": {"id": "b", "duplicateCount": 0}}
    batch = [updated("a", 1), created, updated("a", 2), updated("b", 1), updated("a", 3)]
    assert coalesced(batch) == [created, updated("b", 1), updated("a", 3)]
    assert coalesced([created]) == [created]
