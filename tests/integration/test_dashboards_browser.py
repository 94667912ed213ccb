"""The dashboards as `make up` serves them, in headless Chromium: a moderator signs in and
opens every page from the menu. One screenshot per page is kept under
tests/output/dashboards/ (CI keeps that folder), and no page may show a Streamlit error."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from typer.testing import CliRunner

from core.settings import REPO_ROOT, Settings
from stack.main import app as cli
from tests.conftest import require
from tests.integration.test_web_client import CHROMIUM_ARGS

pytestmark = [pytest.mark.integration, pytest.mark.browser]

OUTPUT = REPO_ROOT / "tests" / "output" / "dashboards"
# The menu's pages for a moderator, in order, and the title each one shows.
PAGES = [
    "Overview",
    "Rooms",
    "Engagement",
    "Moderation queue",
    "Alerts",
    "Community map",
    "Pipeline health",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is missing: `make test` installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _moderator(settings: Settings) -> tuple[str, str]:
    """A fresh account on the stack's own API (the one the served dashboards call)."""
    username, password = f"dash{uuid.uuid4().hex[:10]}", "correct horse battery"
    api = f"http://{settings.api_host}:{settings.api_port}"
    created = httpx.post(
        f"{api}/auth/register",
        json={"username": username, "password": password, "display_name": "Dash"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    result = CliRunner().invoke(cli, ["moderation", "set-role", username, "moderator"])
    assert result.exit_code == 0, result.output
    return username, password


def _settled(page: Page, title: str) -> None:
    """Streamlit has finished the run and drawn it: the entry script's last mark (drawn
    after the page, even one that stopped early), no status widget (it shows while a script
    runs), no skeleton left in place of an element, every chart drawn."""
    expect(page.locator(".st-key-page-drawn")).to_contain_text(
        f"{title} · drawn in", timeout=30_000
    )
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=30_000)
    charts = page.get_by_test_id("stVegaLiteChart")
    for index in range(charts.count()):
        expect(charts.nth(index).locator("canvas, svg").first).to_be_visible(timeout=30_000)


def _no_streamlit_error(page: Page, title: str) -> None:
    for test_id in ("stException", "stAlertContentError"):
        found = page.get_by_test_id(test_id)
        assert found.count() == 0, f"{title}: {found.all_inner_texts()}"


def test_a_moderator_signs_in_and_every_page_renders_without_error(
    browser: Browser, settings: Settings
) -> None:
    require(settings, "dashboards", "api", "monitor", "dagster-webserver")
    username, password = _moderator(settings)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
    page.goto(f"http://{settings.bind_host}:{settings.dashboard_port}/", timeout=60_000)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    shots: list[Path] = []
    for title in PAGES:
        page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
        expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=30_000)
        _settled(page, title)
        _no_streamlit_error(page, title)
        shot = OUTPUT / f"{title.lower().replace(' ', '-')}.png"
        page.screenshot(path=str(shot), full_page=True)
        shots.append(shot)
    assert all(shot.stat().st_size > 10_000 for shot in shots), shots
    page.context.close()
