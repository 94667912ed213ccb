"""The dashboards as `make up` serves them, in headless Chromium: a moderator signs in and
opens every page from the menu. One screenshot per page is kept under
tests/output/dashboards/ (CI keeps that folder), and no page may show a Streamlit error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bench.browser import launch, open_page, settled, sign_in
from bench.dashboards import PAGES, make_moderator
from core.settings import REPO_ROOT, Settings
from tests.conftest import require

pytestmark = [pytest.mark.integration, pytest.mark.browser]

OUTPUT = REPO_ROOT / "tests" / "output" / "dashboards"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        try:
            launched = launch(playwright)
        except RuntimeError as error:
            pytest.fail(str(error))
        yield launched
        launched.close()


def _no_streamlit_error(page: Page, title: str) -> None:
    for test_id in ("stException", "stAlertContentError"):
        found = page.get_by_test_id(test_id)
        assert found.count() == 0, f"{title}: {found.all_inner_texts()}"


def test_a_moderator_signs_in_and_every_page_renders_without_error(
    browser: Browser, settings: Settings
) -> None:
    require(settings, "dashboards", "api", "monitor", "dagster-webserver")
    username, password = make_moderator(settings)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
    sign_in(page, f"http://{settings.bind_host}:{settings.dashboard_port}/", username, password)
    shots: list[Path] = []
    for title in PAGES:
        open_page(page, title)
        expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=30_000)
        settled(page, title)
        _no_streamlit_error(page, title)
        shot = OUTPUT / f"{title.lower().replace(' ', '-')}.png"
        page.screenshot(path=str(shot), full_page=True)
        shots.append(shot)
    assert all(shot.stat().st_size > 10_000 for shot in shots), shots
    page.context.close()
