"""Who may call what: the internal ports answer only the gateway, a changed ADMIN_KEY revokes the old one,
links never come from what a client sent, failed authentications are throttled, slow clients are cut off, and
configuration errors never print a password."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

import shared.http
from services import gateway
from services.gateway.keys import THROTTLE
from shared.auth import KeyRing
from shared.edge import SERVICE_HEADER, PublicBase
from shared.metrics import Metrics
from shared.store import open_store
from shared.store.accounts import Accounts

from .support import ADMIN_KEY, SERVICE_SECRET, Stack, alert, isolated_settings, serving, unique

ALERTBUS = str(Path(sys.executable).with_name("alertbus"))


async def get(stack: Stack, url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with stack.session.get(url, headers=headers or {}) as resp:
        return resp.status, await resp.text()


async def test_query_service_refuses_callers_without_the_service_secret(stack: Stack) -> None:
    query = f"http://127.0.0.1:{stack.settings.query.port}"
    for path in ["/alerts", "/alerts/count", "/heartbeats", "/environments", "/api/alerts"]:
        status, text = await get(stack, query + path, {"X-Alertbus-Base": "http://evil.example"})
        assert status == 401 and "internal" in text and "evil" not in text, (path, status, text)
        status, _ = await get(stack, query + path, {SERVICE_HEADER: "wrong-" + SERVICE_SECRET})
        assert status == 401
    status, text = await get(stack, query + "/alerts", {SERVICE_HEADER: SERVICE_SECRET})
    assert status == 200 and '"alerts"' in text
    for path in ["/_", "/management/gtg", "/metrics"]:  # probes and the scrape stay open on every port
        assert (await get(stack, query + path))[0] == 200


async def test_hooks_service_refuses_callers_without_the_service_secret(stack: Stack) -> None:
    hooks = f"http://127.0.0.1:{stack.settings.hooks.port}"
    instance = unique("forged")
    body = {"receiver": "x", "status": "firing", "alerts": [{"status": "firing", "labels": {
        "alertname": "Forged", "instance": instance, "environment": "Production", "service": "x"}}]}
    async with stack.session.post(hooks + "/webhooks/prometheus", json=body) as resp:
        assert resp.status == 401
    status, found = await stack.request("GET", f"/alerts?event=Forged&resource={instance}")
    assert status == 200 and found["total"] == 0


async def test_links_come_from_configuration_never_from_the_client(stack: Stack) -> None:
    poison = {"Host": "evil.example", "X-Alertbus-Base": "http://evil.example", "X-Forwarded-Host": "evil.example",
              "X-Forwarded-Proto": "https"}
    status, body = await stack.post_alert(alert(unique("links")), headers=poison)
    assert status == 201 and body["alert"]["href"].startswith(stack.url + "/alert/"), body["alert"]["href"]
    async with stack.session.get(stack.url + "/api/alerts", headers={**stack.auth, **poison}) as resp:
        listing = await resp.json()
    assert all(a["href"].startswith(stack.url + "/api/alert/") for a in listing["alerts"])
    async with stack.session.get(stack.url + "/config", headers=poison) as resp:
        assert (await resp.json())["endpoint"] == stack.url


def test_public_base_prefers_configuration_then_trusted_proxies_only() -> None:
    forwarded = {"X-Forwarded-Host": "alerts.example.com", "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/ab"}
    request = make_mocked_request("GET", "/api/alerts", headers={"Host": "evil.example", **forwarded})
    configured = PublicBase.from_config("https://alerts.example.com/", (), "0.0.0.0", 8080)
    assert configured.for_request(request, api_prefix=True) == "https://alerts.example.com/api"
    untrusted = PublicBase.from_config("", ("10.0.0.0/8",), "0.0.0.0", 8080)
    assert untrusted.for_request(request) == "http://localhost:8080"  # the mocked peer is not 10.x
    trusted = PublicBase.from_config("", ("127.0.0.1/32",), "127.0.0.1", 8080)
    peer = make_mocked_request("GET", "/alerts", headers={"Host": "evil.example", **forwarded},
                               transport=_Transport("127.0.0.1"))
    assert trusted.for_request(peer) == "https://alerts.example.com/ab"
    bad = make_mocked_request("GET", "/alerts", headers={"X-Forwarded-Host": "evil.example/x?y"},
                              transport=_Transport("127.0.0.1"))
    assert trusted.for_request(bad) == "http://127.0.0.1:8080"


class _Transport:
    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.peer, 40000) if name == "peername" else default


@pytest.fixture
async def own_database(store_url: str) -> AsyncIterator[str]:
    url = store_url.replace("/test_", f"/keys_{unique('db')[-8:]}_", 1)
    yield url
    async with open_store(url, indexes=False) as store:
        await store.client.drop_database(store.db.name)


async def test_a_changed_admin_key_revokes_the_old_one(stack: Stack, own_database: str) -> None:
    old, new = "old-" + unique("admin"), "new-" + unique("admin")
    for admin_key in (old, new):
        async with isolated_settings(own_database, ADMIN_KEY=admin_key) as settings, \
                serving(gateway.create_app(settings, Metrics()), settings.gateway.port) as url:
            status, _ = await get(stack, url + "/keys", {"Authorization": f"Key {admin_key}"})
            assert status == 200
            if admin_key == new:
                status, _ = await get(stack, url + "/keys", {"Authorization": f"Key {old}"})
                assert status == 401
                async with stack.session.get(url + "/keys", headers={"Authorization": f"Key {new}"}) as resp:
                    keys = (await resp.json())["keys"]
                assert [k["prefix"] for k in keys].count("ADMIN_KEY") == 1
    async with open_store(own_database, indexes=False) as store:  # and no ADMIN_KEY at all: none is left
        await KeyRing(Accounts(store), "").bootstrap()
        assert await store.db["keys"].count_documents({"prefix": "ADMIN_KEY"}) == 0


async def test_failed_authentications_are_throttled_but_known_keys_pass(stack: Stack) -> None:
    throttle = stack.runners[-1].app[THROTTLE]
    throttle.buckets.clear()  # other tests' failures from this address
    try:
        statuses = [(await get(stack, stack.url + "/alerts", {"Authorization": f"Key wrong-{n}"}))[0]
                    for n in range(40)]
        assert statuses[:20] == [401] * 20 and statuses[-1] == 429
        async with stack.session.get(stack.url + "/alerts", headers={"Authorization": "Key wrong-x"}) as resp:
            assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
        assert (await get(stack, stack.url + "/alerts", stack.auth))[0] == 200
    finally:
        throttle.buckets.clear()


async def test_the_key_cache_is_bounded(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.auth.CACHE_ENTRIES", 50)
    keyring = KeyRing(Accounts(stack.store))
    for n in range(200):
        assert await keyring.authenticate(f"invalid-{n}") is None
    assert len(keyring.cache) == 50


async def raw_exchange(port: int, data: bytes, timeout: float) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


async def test_a_request_id_that_is_not_printable_ascii_is_a_400(stack: Stack) -> None:
    for rid in [b"\xff\xfe", b"a\xc3\xa9", b"x" * 300]:
        head = b"GET /_ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-ID: " + rid + b"\r\n\r\n"
        answer = await raw_exchange(stack.settings.gateway.port, head, 10)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert b"X-Request-ID" in answer and b'"status":"error"' in answer


async def test_a_slow_body_is_cut_off(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shared.http, "BODY_SECONDS", 1.0)
    head = ("POST /alert HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Key " + ADMIN_KEY +
            "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{").encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.settings.gateway.port)
    writer.write(head)
    try:  # the answer comes at once; the connection itself lingers a while for the rest of the body
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


async def test_a_connection_without_a_whole_request_head_is_closed(stack: Stack) -> None:
    started = asyncio.get_running_loop().time()
    answer = await raw_exchange(stack.settings.gateway.port, b"GET /_ HTTP/1.1\r\nHost: x\r\nX-Slow: ", 30)
    assert answer == b"" and asyncio.get_running_loop().time() - started < 20


def test_configuration_errors_never_print_a_password() -> None:
    env = {**os.environ, "AMQP_URL": "ftp://user:hunter2secret@broker/", "SERVICE_SECRET": "x"}
    result = subprocess.run([ALERTBUS, "gateway"], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "AMQP_URL" in result.stderr and "hunter2secret" not in result.stderr


def test_a_service_alone_needs_the_service_secret() -> None:
    env = {key: value for key, value in os.environ.items() if key != "SERVICE_SECRET"}
    for command in ("gateway", "query", "hooks", "ingest"):
        result = subprocess.run([ALERTBUS, command], env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 2 and "SERVICE_SECRET" in result.stderr, (command, result.stderr)
