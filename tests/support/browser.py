"""The console's browser tests' tools: Debian's chromium (``apt-get install chromium chromium-driver``) driven
through Playwright's async API on the test's own event loop (no browser is downloaded), a page that records what
the browser complained about, and the stack the pages talk to. A plugin of the session (tests/conftest.py), so
that a test module names the fixtures without importing them; ``browser`` and ``console`` are module-scoped (each
test module that uses them gets its own browser and stack, started only then), and a browser test module marks its
tests with ``BROWSER_TESTS``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Playwright, async_playwright

from .stack import Stack, start_stack

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LIVE_LIMIT = 1.0  # seconds from the API's answer to the row on screen
# A browser test module's ``pytestmark``: the marker, and each test's pages closed after it (their live streams
# with them).
BROWSER_TESTS = [pytest.mark.browser, pytest.mark.usefixtures("close_pages")]


@pytest_asyncio.fixture(scope="module")
async def playwright() -> AsyncIterator[Playwright]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver"
    async with async_playwright() as p:
        yield p


@pytest_asyncio.fixture(scope="module")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield browser
    await browser.close()


@pytest_asyncio.fixture
async def close_pages(browser: Browser) -> AsyncIterator[None]:
    """Each test's pages are closed after it (their live streams with them)."""
    yield
    for context in browser.contexts:
        await context.close()


@pytest_asyncio.fixture(scope="module")
async def console(store_url: str) -> AsyncIterator[Stack]:
    async with start_stack(store_url, ALLOWED_ENVIRONMENTS="Production,Development,Staging") as stack:
        yield stack


@dataclass
class Watched:
    """A page and what it did: console errors, uncaught exceptions, dialogs, the API requests it made."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    allowed: tuple[str, ...] = ("/auth/login",)  # the login route's probe answers 404 until that route exists

    def assert_clean(self) -> None:
        assert self.errors == [] and self.dialogs == []


async def open_console(browser: Browser, stack: Stack, *, signed_in: bool = True, width: int = 1280,
                       height: int = 860, path: str = "/") -> Watched:
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    watched = Watched(page)

    def on_console(message: Any) -> None:
        if message.type == "error" and not any(a in message.location.get("url", "") for a in watched.allowed):
            watched.errors.append(f"{message.text} @ {message.location.get('url')}")

    async def on_dialog(dialog: Any) -> None:
        watched.dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
    page.on("dialog", on_dialog)
    page.on("request", lambda request: watched.requests.append(request.url))
    if signed_in:
        key = stack.settings.admin_key
        await page.add_init_script(
            f"sessionStorage.setItem('alertbus.credential', JSON.stringify({{kind: 'key', value: '{key}'}}))")
    await page.goto(stack.url + path)
    return watched


async def post(stack: Stack, body: dict[str, Any]) -> str:
    status, answer = await stack.post_alert(body)
    assert status == 201, answer
    return str(answer["id"])


def row(page: Page, alert_id: str) -> Any:
    return page.locator(f'tbody tr[data-id="{alert_id}"]')


async def shot(page: Page, name: str) -> None:
    """A full-page screenshot into docs/screenshots/ (the README shows them)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
