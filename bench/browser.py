"""Headless Chromium for the dashboards (Debian's chromium, driven by Playwright): what the
page-load measurement (bench/dashboards.py) and the browser test share, so that both wait
for the same thing before they call a page loaded."""

from __future__ import annotations

import shutil

from playwright.sync_api import Browser, Page, Playwright, expect

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # This machine has no network beyond loopback; Chromium's background calls only fail.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Playwright) -> Browser:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise RuntimeError(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    return playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


def sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(url, timeout=60_000)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def open_page(page: Page, title: str) -> None:
    """Click ``title`` in the menu (a new URL would be a new session: signed out)."""
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()


def settled(page: Page, title: str, timeout_ms: float = 30_000) -> str:
    """Waits until Streamlit has run ``title`` and drawn it: the entry script's mark for that
    page (written after the page, even one that stopped early), no status widget (shown while
    a script runs), no skeleton in place of an element, every chart drawn. Returns the mark's
    text ("<title> · drawn in <s> s": the server's share of the load)."""
    mark = page.locator(".st-key-page-drawn")
    expect(mark).to_contain_text(f"{title} · drawn in", timeout=timeout_ms)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout_ms)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout_ms)
    charts = page.get_by_test_id("stVegaLiteChart")
    for index in range(charts.count()):
        expect(charts.nth(index).locator("canvas, svg").first).to_be_visible(timeout=timeout_ms)
    return mark.inner_text()
