"""The console's alert list in a real browser (tests/support/browser.py: Debian's chromium through Playwright,
against a stack of its own, so the list holds exactly what these tests sent): sign-in, filters and tabs, alerts
appearing live, phone width, the ``/api/`` prefix, no authentication, and the banner and reconnect across a
gateway restart. Every page checks that the browser logged no error and opened no dialog."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.async_api import Browser, expect

from services import gateway
from shared.severity import SEVERITY_MAP

from .support import Stack, alert, serve, start_stack, unique
from .support.browser import BROWSER_TESTS, LIVE_LIMIT, open_console, post, row, shot

pytestmark = BROWSER_TESTS


async def test_sign_in_refuses_a_bad_key_and_opens_the_list_with_a_good_one(browser: Browser, console: Stack) -> None:
    watched = await open_console(browser, console, signed_in=False)
    page = watched.page
    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#login-form")).to_be_visible()  # the server has /auth/login
    watched.allowed += ("/alerts/count",)  # the refused key's check is a 401 the browser logs
    await page.fill("#key", "not-a-key")
    await page.click("#key-form button")
    await expect(page.locator("#signin-error")).to_contain_text("refused")
    await page.fill("#key", console.settings.admin_key)
    await page.click("#key-form button")
    await expect(page.locator("table.alerts")).to_be_visible()
    await expect(page.locator("#live")).to_have_text("● Live")
    stored = await page.evaluate("sessionStorage.getItem('alertbus.credential')")
    assert console.settings.admin_key in stored and console.settings.admin_key not in page.url
    assert not [u for u in watched.requests if console.settings.admin_key in u]  # never in a URL
    await page.click("#signout")
    await expect(page.locator("#signin")).to_be_visible()
    assert await page.evaluate("sessionStorage.getItem('alertbus.credential')") is None
    await page.fill("#key", console.settings.admin_key)
    await page.click("#key-form button")
    await expect(page.locator("#live")).to_have_text("● Live")
    ident = await post(console, alert(unique("again")))
    await expect(row(page, ident)).to_be_visible(timeout=LIVE_LIMIT * 1000)
    watched.assert_clean()


async def test_a_user_logs_in_with_a_password_and_the_list_goes_live(browser: Browser, console: Stack) -> None:
    login, password = f"{unique('op')}@example.com", "a long operator password"
    status, body = await console.request("POST", "/user", {"name": "Operator", "email": login, "password": password,
                                                            "roles": ["user"]})
    assert status == 201, body
    watched = await open_console(browser, console, signed_in=False)
    page = watched.page
    watched.allowed += ("/auth/login",)  # the wrong password's 401 is logged by the browser
    await page.fill("#username", login)
    await page.fill("#password", "wrong")
    await page.click("#login-form button")
    await expect(page.locator("#signin-error")).to_contain_text("Login failed")
    await page.fill("#username", login)
    await page.fill("#password", password)
    await page.click("#login-form button")
    await expect(page.locator("#live")).to_have_text("● Live")
    stored = await page.evaluate("sessionStorage.getItem('alertbus.credential')")
    assert '"token"' in stored and password not in stored  # the token is kept, never the password
    ident = await post(console, alert(unique("login")))
    await expect(row(page, ident)).to_be_visible(timeout=LIVE_LIMIT * 1000)
    watched.assert_clean()


async def test_list_filters_and_shows_new_alerts_live(browser: Browser, console: Stack) -> None:
    tag = unique("list")
    ids = {sev: await post(console, alert(f"{tag}-{sev}", severity=sev, event="DiskFull", group="Storage"))
           for sev in ("critical", "major", "minor", "warning")}
    staging = await post(console, alert(f"{tag}-staging", environment="Staging", severity="critical"))
    watched = await open_console(browser, console)
    page = watched.page
    await expect(row(page, ids["critical"])).to_be_visible()
    critical = row(page, ids["critical"]).locator(".sev")
    await expect(critical).to_have_text("critical")  # the severity in words as well as in colour
    assert "sev-critical" in (await critical.get_attribute("class") or "")
    await expect(page.locator(".tab", has_text="Staging")).to_contain_text("1")
    await expect(page.locator("#live")).to_have_text("● Live")
    await shot(page, "list")

    await page.select_option("select[name=severity]", "critical")
    await expect(row(page, ids["major"])).to_have_count(0)
    await expect(row(page, staging)).to_be_visible()
    await page.locator(".tab", has_text="Staging").click()
    await expect(row(page, ids["critical"])).to_have_count(0)
    await expect(row(page, staging)).to_be_visible()
    await page.locator(".tab", has_text="All").click()
    await page.select_option("select[name=severity]", "")
    await page.fill("input[name=q]", f"resource:{tag}-minor")
    await page.press("input[name=q]", "Enter")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(row(page, ids["minor"])).to_be_visible()
    await page.fill("input[name=q]", "")
    await page.press("input[name=q]", "Enter")
    await expect(row(page, ids["warning"])).to_be_visible()

    watched.requests.clear()
    started = time.perf_counter()
    fresh = await post(console, alert(f"{tag}-fresh", severity="major"))
    answered = time.perf_counter()
    await expect(row(page, fresh)).to_be_visible(timeout=LIVE_LIMIT * 1000)
    shown = time.perf_counter()
    print(f"\nlive: POST answered in {answered - started:.3f} s, row on screen {shown - answered:.3f} s later")
    assert shown - answered <= LIVE_LIMIT
    await post(console, alert(f"{tag}-fresh", severity="major"))  # a duplicate updates the row in place
    await expect(row(page, fresh).locator("td[data-label='Dupl.']")).to_have_text("1", timeout=LIVE_LIMIT * 1000)
    assert not [u for u in watched.requests if u.split("?")[0].endswith("/alerts")], "the list was re-fetched"
    await page.fill("input[name=q]", f"resource:{tag}-live*")  # a q filter: the server decides what matches
    await page.press("input[name=q]", "Enter")
    await expect(page.locator("tbody td.empty")).to_be_visible()
    other, live = await post(console, alert(f"{tag}-other")), await post(console, alert(f"{tag}-live-1"))
    await expect(row(page, live)).to_be_visible(timeout=LIVE_LIMIT * 1000)
    await expect(row(page, other)).to_have_count(0)
    await page.fill("input[name=q]", "")
    await page.press("input[name=q]", "Enter")
    await expect(row(page, other)).to_be_visible()
    status, _ = await console.request("PUT", f"/alert/{fresh}/action", {"action": "expired"})
    assert status == 200
    await expect(row(page, fresh)).to_have_count(0)  # the list hides expired alerts, live
    await page.wait_for_timeout(1500)  # the counts follow within a second
    count = (await page.locator(".tab[aria-selected=true] .count").text_content()) or ""
    await expect(page.locator(".summary")).to_contain_text(f"of {count} alerts")  # tabs count what the list shows
    await page.locator("th button", has_text="Last received").click()  # newest first
    await expect(page.locator("tbody tr").first).to_have_attribute("data-id", live)
    await page.locator("th button", has_text="Severity").click()  # most severe first (the default order)
    await expect(page.locator("tbody tr").first.locator(".sev")).to_have_text("critical")
    watched.assert_clean()


async def test_phone_width_keeps_the_list_usable(browser: Browser, console: Stack) -> None:
    ident = await post(console, alert(unique("phone"), severity="critical"))
    watched = await open_console(browser, console, width=390, height=844)
    page = watched.page
    await expect(row(page, ident)).to_be_visible()
    await expect(row(page, ident).locator("td[data-label=Text]")).to_be_hidden()  # the wide columns fold away
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    await row(page, ident).locator("input[type=checkbox]").focus()  # a live change keeps the keyboard's place
    await page.keyboard.press("Space")
    other = await post(console, alert(unique("phone"), severity="major"))
    await expect(row(page, other)).to_be_visible()
    assert await page.evaluate("document.activeElement.closest('tr')?.dataset.id") == ident
    await expect(row(page, ident).locator("input[type=checkbox]")).to_be_checked()
    await page.keyboard.press("Space")
    await page.keyboard.press("/")  # the keyboard reaches the search
    assert await page.evaluate("document.activeElement.name") == "q"
    await shot(page, "phone")
    watched.assert_clean()


async def test_without_authentication_the_console_opens_without_sign_in(browser: Browser, store_url: str) -> None:
    async with start_stack(store_url, AUTH_REQUIRED="false") as stack:
        ident = await post(stack, alert(unique("open")))
        watched = await open_console(browser, stack, signed_in=False)
        page = watched.page
        await expect(row(page, ident)).to_be_visible()
        await expect(page.locator("#signin")).to_be_hidden()
        await expect(page.locator("#who")).to_have_text("authentication off")
        await expect(page.locator("#live")).to_have_text("● Live")
        fresh = await post(stack, alert(unique("open")))
        await expect(row(page, fresh)).to_be_visible(timeout=LIVE_LIMIT * 1000)
        watched.assert_clean()
        await page.context.close()  # before its stack stops


async def test_the_console_works_under_the_api_prefix(browser: Browser, console: Stack) -> None:
    ident = await post(console, alert(unique("prefixed")))
    watched = await open_console(browser, console, path="/api/")
    await expect(row(watched.page, ident)).to_be_visible()
    await expect(watched.page.locator("#live")).to_have_text("● Live")
    api_calls = [u for u in watched.requests if "/alerts?" in u or "/stream" in u or "/console/" in u]
    assert api_calls and all(u.startswith(console.url + "/api/") for u in api_calls)
    watched.assert_clean()


async def test_banner_while_the_gateway_is_down_and_live_again_after_its_restart(browser: Browser,
                                                                                  console: Stack) -> None:
    watched = await open_console(browser, console)
    page = watched.page
    await expect(page.locator("#live")).to_have_text("● Live")
    runner = console.runners.pop()  # the gateway (started last)
    await runner.cleanup()
    await expect(page.locator("#banner")).to_be_visible(timeout=5000)
    await expect(page.locator("#banner")).to_contain_text("reconnecting")
    console.runners.append(await serve(gateway.create_app(console.settings, console.metrics),
                                       console.settings.gateway.port))
    await expect(page.locator("#banner")).to_be_hidden(timeout=15000)
    ident = await post(console, alert(unique("after-restart")))
    await expect(row(page, ident)).to_be_visible(timeout=LIVE_LIMIT * 1000)
    watched.errors = [e for e in watched.errors if "ERR_CONNECTION_REFUSED" not in e and "stream" not in e]
    watched.assert_clean()


def test_severity_colours_cover_the_alarm_model() -> None:
    css = (Path(gateway.__file__).parent / "console" / "static" / "console.css").read_text()
    assert not [severity for severity in SEVERITY_MAP if f".sev-{severity}" not in css]
