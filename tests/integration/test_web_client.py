"""The web client in headless Chromium (Debian's, driven by Playwright): two people chat, one
leaves the page and comes back to find everything it missed."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bench.browser import CHROMIUM_ARGS
from core.settings import Settings
from tests.conftest import require

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _sign_up(browser: Browser, api_url: str, username: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{api_url}/app/")
    page.fill("#username", username)
    page.fill("#password", "correct horse battery")
    page.click("#signup")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#conn")).to_have_text("online")
    # The focus panel: a new user's week is empty, and so is the streak.
    expect(page.locator("#focus-summary")).to_have_text(
        "0 min in rooms this past week · streak 0 days"
    )
    expect(page.locator("#focus-days li")).to_have_count(7)
    return page


def _say(page: Page, text: str) -> None:
    page.fill("#body", text)
    page.click("#composer button")


def test_two_people_chat_and_a_reload_misses_nothing(
    browser: Browser, api_url: str, settings: Settings
) -> None:
    require(settings, "chat-persist", "moderation")
    tag = uuid.uuid4().hex[:8]
    alice = _sign_up(browser, api_url, f"alice{tag}")
    bob = _sign_up(browser, api_url, f"bob{tag}")

    alice.fill("#room-name", f"Linear algebra {tag}")
    alice.fill("#room-topic", f"math{tag}")
    alice.click("#new-room button")
    expect(alice.locator("#room-title")).to_contain_text(f"Linear algebra {tag}")

    bob.fill("#topic-filter", f"math{tag}")
    bob.click("#refresh")
    bob.locator("#rooms li", has_text=f"Linear algebra {tag}").click()
    expect(bob.locator("#room-title")).to_contain_text(f"Linear algebra {tag}")
    # Alice sees Bob arrive, online.
    expect(alice.locator("#people li.online", has_text=f"bob{tag}")).to_be_visible(timeout=15_000)

    _say(alice, "hello from alice")
    expect(bob.locator("#messages li[data-seq]", has_text="hello from alice")).to_be_visible(
        timeout=15_000
    )
    bob.type("#body", "typing…")
    expect(alice.locator("#typing")).to_contain_text(f"bob{tag} is typing", timeout=10_000)
    # Typing expires by itself (about 5 s after the last keystroke).
    expect(alice.locator("#typing")).to_have_text("", timeout=10_000)
    bob.fill("#body", "")
    _say(bob, "hi alice")
    expect(alice.locator("#messages li[data-seq]", has_text="hi alice")).to_be_visible(
        timeout=15_000
    )

    # Bob leaves the page; Alice goes on; Bob comes back and sees everything, in order.
    bob.goto("about:blank")
    missed = [f"while you were away {n}" for n in range(3)]
    for text in missed:
        _say(alice, text)
    expect(alice.locator("#messages li[data-seq]")).to_have_count(5, timeout=15_000)
    bob.go_back()
    expect(bob.locator("#room-title")).to_contain_text(f"Linear algebra {tag}", timeout=15_000)
    expect(bob.locator("#messages li[data-seq]")).to_have_count(5, timeout=15_000)
    bodies = bob.locator("#messages li[data-seq] .body").all_inner_texts()
    assert bodies == ["hello from alice", "hi alice", *missed]
    seqs = [
        int(s)
        for s in bob.locator("#messages li[data-seq]").evaluate_all(
            "els => els.map(e => e.dataset.seq)"
        )
    ]
    assert seqs == [1, 2, 3, 4, 5]

    # The room blocks abuse (a new room's policy): Alice is told on her message and gets its
    # text back to edit; Bob never sees it.
    _say(alice, "you f*cking idiot")
    expect(alice.locator("#messages li.blocked")).to_contain_text("not sent", timeout=15_000)
    expect(alice.locator("#body")).to_have_value("you f*cking idiot")
    _say(alice, "sorry, wrong chat")
    expect(bob.locator("#messages li[data-seq]", has_text="sorry, wrong chat")).to_be_visible(
        timeout=15_000
    )
    assert bob.locator("#messages li", has_text="idiot").count() == 0

    # Bob reports a message from the page; Alice, the room's owner, removes it from the queue
    # (over the API, as her own session): it disappears from Bob's page while he watches.
    bob.once("dialog", lambda dialog: dialog.accept("off topic"))
    bob.locator("#messages li[data-seq]", has_text="sorry, wrong chat").locator(
        "button.report"
    ).click()
    expect(
        bob.locator("#messages li[data-seq]", has_text="sorry, wrong chat").locator("button.report")
    ).to_have_text("reported", timeout=15_000)
    token = alice.evaluate("sessionStorage.getItem('token')")
    room_id = alice.evaluate("String(state.room.id)")
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}) as owner:
        # The queue also holds the blocked message's item (no message to remove), which may
        # arrive first: wait for Bob's report itself.
        deadline = time.monotonic() + 30
        items: list[dict[str, object]] = []
        reports: list[dict[str, object]] = []
        while not reports and time.monotonic() < deadline:
            items = owner.get("/moderation/queue", params={"room_id": room_id}).json()["items"]
            reports = [i for i in items if i["action"] == "reported"]
            time.sleep(0.3)
        assert len(reports) == 1, f"the report did not reach the queue: {items}"
        assert reports[0]["message_id"] is not None
        decided = owner.post(
            f"/moderation/items/{reports[0]['id']}/decision",
            json={"decision": "remove", "reason": "off topic"},
        )
        assert decided.status_code == 200, decided.text
    expect(bob.locator("#messages li[data-seq]", has_text="sorry, wrong chat")).to_have_count(
        0, timeout=15_000
    )

    # The shared timer: Alice starts it, Bob's clock runs too.
    alice.click("[data-timer=start]")
    expect(bob.locator("#timer-phase")).to_have_text("focus (running)", timeout=15_000)


def test_api_docs_render_from_local_assets_only(browser: Browser, api_url: str) -> None:
    """/docs must work on a machine without internet: every request it makes stays local."""
    page = browser.new_context().new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{api_url}/docs")
    # Swagger UI drew the document: the title and a route of ours are on the page.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("studyhub")
    expect(page.get_by_text("/rooms/{room_id}/join").first).to_be_visible()
    foreign = [u for u in requested if u.startswith("http") and not u.startswith(api_url)]
    assert requested
    assert foreign == []
    page.close()
