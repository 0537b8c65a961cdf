"""The web chat in a real browser (Debian's Chromium driven by Playwright) against the real app.

Two servers: one over the sample corpus, one over a tiny corpus of hostile articles (script
tags, event handlers, javascript: links, tracking images, LaTeX) that must stay inert text.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.servers import HOST, running_app

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 60_000
SCREENSHOT = Path("/tmp/browser-shot.png")
XSS_SCREENSHOT = Path("/tmp/browser-shot-xss.png")

TRACKER_HOST = "203.0.113.9"  # TEST-NET-3: must never be contacted
PAYLOAD = (
    "The lighthouse keeper <script>window.__pwned=1</script> counted seventeen gulls on the pier "
    '<img src=x onerror="window.__pwned=1"> at dawn, see [the log](javascript:window.__pwned=1) '
    f"and ![t](http://{TRACKER_HOST}/pixel.png) and "
    f'<img src="http://{TRACKER_HOST}/raw.png"> and http://{TRACKER_HOST}/bare.png '
    "and $$x^2$$ too."
)
HOSTILE_ARTICLE = (
    "---\n"
    'title: <img src=x onerror="window.__pwned=1">Lighthouse <script>window.__pwned=1</script>\n'
    "url: javascript:window.__pwned=1\n"
    "---\n\n"
    "# Lighthouse log\n\n"
    f"{PAYLOAD}\n\n"
    "The harbour master repainted the red boats in March.\n"
)


def chat_count(page: Page) -> int:
    return page.locator("#qa-chat [data-testid='user'], #qa-chat [data-testid='bot']").count()


def ask(page: Page, question: str) -> None:
    """Type a question, press Enter and wait until the assistant's reply is in the chat."""
    bots = page.locator("#qa-chat [data-testid='bot']")
    before = bots.count()
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    expect(bots).to_have_count(before + 1, timeout=WAIT_MS)
    expect(box).to_have_value("", timeout=WAIT_MS)  # the app clears the box after an answer


@pytest.fixture(scope="module")
def pw() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(f"no system Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def chromium(pw: Playwright) -> Iterator[Browser]:
    browser = pw.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS
    )
    yield browser
    browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def test_chat_answers_cites_and_follows_up(page: Page, app_url: str) -> None:
    page.goto(app_url)
    ask(page, "What did Ukraine vow to do in Bakhmut?")

    bot = page.locator("#qa-chat [data-testid='bot']")
    expect(bot.first).to_contain_text("[1]")
    expect(bot.first).to_contain_text("bolster its defenses")
    mark = page.locator("#qa-sources mark").first
    expect(mark).to_contain_text("bolster its defenses")
    expect(page.locator("#qa-sources .qa-citation").first).to_contain_text("paragraph 4")
    assert chat_count(page) == 2

    # A follow-up that names nothing itself ("there" = Bakhmut).
    ask(page, "How many civilians remain there?")
    assert chat_count(page) == 4
    expect(bot.nth(1)).to_contain_text("[1]")
    expect(bot.nth(1)).to_contain_text("4,000 civilians")
    expect(page.locator("#qa-sources mark").first).to_contain_text("4,000 civilians")
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # "New conversation" empties the chat and the sources panel.
    page.locator("#qa-clear").click()
    expect(page.locator("#qa-chat [data-testid='bot']")).to_have_count(0)
    expect(page.locator("#qa-sources")).to_contain_text("Cited passages appear here.")


def test_empty_question_is_explained_in_the_chat(page: Page, app_url: str) -> None:
    page.goto(app_url)
    box = page.locator("#qa-question textarea")
    box.fill("   ")
    box.press("Enter")
    bot = page.locator("#qa-chat [data-testid='bot']")
    expect(bot).to_have_count(1, timeout=WAIT_MS)
    expect(bot.first).to_contain_text("question is empty")
    expect(box).to_have_value("   ")  # kept, so the user can fix it


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second app over a tiny index whose only real article is hostile."""
    base = tmp_path_factory.mktemp("hostile")
    articles = base / "articles"
    articles.mkdir()
    (articles / "lighthouse.md").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    (articles / "bakery.txt").write_text(
        "Village bakery\n\nThe village bakery sells forty loaves of rye bread every morning.\n",
        encoding="utf-8",
    )
    index = base / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("QA_INDEX", None)
    built = subprocess.run(
        [sys.executable, "-m", "qa", "build", str(articles), "--index", str(index), "--quiet"],
        cwd=base,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    with running_app(index, base / "server") as url:
        yield url


@pytest.fixture(scope="module")
def hostile_page(chromium: Browser, hostile_url: str) -> Iterator[tuple[Page, list[str]]]:
    """The hostile article asked about and answered; every URL the page requested."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.goto(hostile_url)
    ask(page, "How many gulls did the lighthouse keeper count?")
    expect(page.locator("#qa-sources mark").first).to_contain_text("seventeen gulls")
    page.wait_for_timeout(1500)  # give any injected image or script the time to fire
    page.screenshot(path=str(XSS_SCREENSHOT), full_page=True)
    yield page, requested
    context.close()


def test_hostile_article_stays_inert_text(hostile_page: tuple[Page, list[str]]) -> None:
    page, requested = hostile_page
    sources = page.locator("#qa-sources")
    expect(sources.locator(".qa-citation").first).to_contain_text("lighthouse.md")

    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator(f'img[src*="{TRACKER_HOST}"]').count() == 0
    assert sources.locator("img, script").count() == 0
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    assert not [h for h in hrefs if h.lower().startswith("javascript:")], hrefs
    assert "open source" not in sources.inner_text()  # the javascript: url gets no link

    # Shown as text, in the passage, its title and the chat.
    expect(sources).to_contain_text("<script>window.__pwned=1</script>")
    expect(sources).to_contain_text('<img src=x onerror="window.__pwned=1">Lighthouse')
    expect(sources.locator("mark").first).to_contain_text("[the log](javascript:window.__pwned=1)")
    bot = page.locator("#qa-chat [data-testid='bot']").first
    expect(bot).to_contain_text("<script>window.__pwned=1</script>")

    # Only what the article asked for is asserted here; Gradio's own assets were all served
    # from 127.0.0.1 when this was written (no fonts or CDN requests).
    hosts = {urlsplit(u).hostname for u in requested if urlsplit(u).scheme in ("http", "https")}
    assert TRACKER_HOST not in hosts, [u for u in requested if TRACKER_HOST in u]
    assert HOST in hosts


def test_article_urls_are_not_links_in_the_chat(hostile_page: tuple[Page, list[str]]) -> None:
    page, _ = hostile_page
    bot = page.locator("#qa-chat [data-testid='bot']").first
    assert bot.locator("a").count() == 0  # answer_markdown makes no links of its own
    expect(bot).to_contain_text(f"http://{TRACKER_HOST}/bare.png", timeout=1000)


def test_article_latex_is_shown_as_text(hostile_page: tuple[Page, list[str]]) -> None:
    page, _ = hostile_page
    bot = page.locator("#qa-chat [data-testid='bot']").first
    assert bot.locator(".katex").count() == 0
    expect(bot).to_contain_text("$$x^2$$", timeout=1000)


def test_chat_trash_button_clears_the_sources_too(page: Page, hostile_url: str) -> None:
    page.goto(hostile_url)
    ask(page, "How many loaves does the village bakery sell?")
    expect(page.locator("#qa-sources mark").first).to_contain_text("forty loaves")
    page.locator("#qa-chat button[aria-label='Clear']").click()
    expect(page.locator("#qa-chat [data-testid='bot']")).to_have_count(0)
    expect(page.locator("#qa-sources")).to_contain_text("Cited passages appear here.", timeout=5000)
