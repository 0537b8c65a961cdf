"""The web chat in a real browser (Debian's Chromium driven by Playwright) against the real app.

Two servers: one over the sample corpus, one over a tiny corpus of hostile articles (script
tags, event handlers, javascript: links, tracking images, LaTeX) that must stay inert text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.conftest import SEED
from tests.servers import CHROMIUM, CHROMIUM_ARGS, HOST, WAIT_MS, running_app

pytestmark = pytest.mark.slow

# Screenshots of the main screens (README and docs/ use them): set QA_SCREENSHOTS=docs/screenshots.
SCREENSHOTS = Path(os.environ.get("QA_SCREENSHOTS", "/tmp/qa-screenshots"))

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
    expect(box).to_have_value("", timeout=WAIT_MS)  # the app empties the box when asked
    expect(bots.last.locator(".qa-loading")).to_have_count(0, timeout=WAIT_MS)  # answered


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def in_viewport(page: Page, selector: str) -> bool:
    return bool(
        page.eval_on_selector(
            selector,
            "e => { const r = e.getBoundingClientRect();"
            " return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }",
        )
    )


def luminance(rgb: str) -> float:
    """WCAG relative luminance of a computed ``rgb(r, g, b)`` colour."""
    channels = [int(v) / 255 for v in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    hi, lo = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


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


def new_page(chromium: Browser, width: int = 1366, height: int = 900, scheme: str = "light") -> Page:
    context = chromium.new_context(
        viewport={"width": width, "height": height},
        color_scheme=scheme,  # type: ignore[arg-type]
        accept_downloads=True,
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    page = new_page(chromium)
    yield page
    page.context.close()


def test_answer_reads_as_written_and_its_citation_opens_the_article(page: Page, app_url: str) -> None:
    page.goto(app_url)
    ask(page, "Which mercenary group has spearheaded the assault on Bakhmut?")

    bot = page.locator("#qa-chat [data-testid='bot']").first
    expect(bot).to_contain_text("Russia's mercenary group Wagner")  # an apostrophe, not &#x27;
    assert "&#" not in bot.inner_text() and "\\" not in bot.inner_text()
    card = page.locator("#qa-src-0-1")
    expect(card.locator("mark")).to_contain_text("Russia's mercenary group Wagner")
    expect(card.locator(".qa-title")).to_have_text("Russia Reaffirms Bakhmut Push")
    expect(card.locator(".qa-meta")).to_contain_text("paragraph 10")
    expect(page.locator("#qa-sources mark")).to_have_count(1)  # close matches are not highlighted
    expect(card.locator(".qa-details")).not_to_have_attribute("open", "")  # score and path tucked away
    shoot(page, "answer")

    # [1] in the answer brings its card into view.
    page.mouse.wheel(0, -5000)
    bot.locator("a.qa-ref").first.click()
    page.wait_for_timeout(1200)
    assert in_viewport(page, "#qa-src-0-1")

    # "Open article" shows the whole article at the cited paragraph, highlighted.
    card.get_by_role("button", name="Open article").click()
    target = page.locator("#qa-viewer .qa-target")
    expect(target).to_have_count(1)
    expect(target).to_have_attribute("id", "qa-para-10")
    expect(target.locator("mark")).to_contain_text("Russia's mercenary group Wagner")
    paragraphs = [line for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    expect(page.locator("#qa-viewer .qa-para")).to_have_count(len(paragraphs))  # the whole article
    page.wait_for_timeout(1200)
    assert in_viewport(page, "#qa-viewer .qa-target")
    shoot(page, "source-viewer")


def test_follow_up_says_what_it_searched_and_abstention_looks_different(page: Page, app_url: str) -> None:
    page.goto(app_url)
    ask(page, "What did Ukraine vow to do in Bakhmut?")
    bots = page.locator("#qa-chat [data-testid='bot']")
    expect(bots.first).to_contain_text("bolster its defenses")
    expect(bots.first.locator(".qa-searched")).to_have_count(0)

    ask(page, "How many civilians remain there?")  # "there" = Bakhmut
    expect(bots.nth(1)).to_contain_text("4,000 civilians")
    expect(bots.nth(1).locator(".qa-searched")).to_contain_text(
        "Searched as: “What did Ukraine vow to do in Bakhmut? How many civilians remain there?”"
    )
    expect(page.locator("#qa-sources mark").first).to_contain_text("4,000 civilians")
    shoot(page, "follow-up")

    # [1] of the first answer puts that answer's sources back in the panel.
    bots.first.locator("a.qa-ref").first.click()
    expect(page.locator("#qa-sources .qa-sources-for")).to_contain_text("What did Ukraine vow")
    expect(page.locator("#qa-src-0-1 mark")).to_contain_text("bolster its defenses")

    ask(page, "What is the recommended tyre pressure for a mountain bike?")
    expect(bots.nth(2).locator(".qa-notfound")).to_have_text("Not found in the articles.")
    expect(page.locator("#qa-sources")).to_contain_text("Closest matches")
    expect(page.locator("#qa-sources mark")).to_have_count(0)
    shoot(page, "abstention")

    page.locator("#qa-clear").click()
    expect(bots).to_have_count(0)
    expect(page.locator("#qa-sources")).to_contain_text("the passages that answer it appear here")


def test_bad_input_adds_no_bubble_and_is_never_cut(page: Page, app_url: str) -> None:
    page.goto(app_url)
    box = page.locator("#qa-question textarea")
    box.fill("   ")
    box.press("Enter")
    expect(page.locator("#qa-status")).to_contain_text("Type a question first.")
    long_question = "Why " + "really " * 800 + "?"
    box.fill(long_question)
    too_long = f"{len(long_question.strip()):,} characters long"
    # Gradio ignores Enter until the previous event has completed, a moment after its output
    # shows (longer on a loaded machine): press again if the first press fell in that moment.
    for _ in range(3):
        box.press("Enter")
        try:
            expect(page.locator("#qa-status")).to_contain_text(too_long, timeout=5_000)
            break
        except AssertionError:
            continue
    expect(page.locator("#qa-status")).to_contain_text(too_long)
    expect(page.locator("#qa-status")).to_contain_text("the limit is 2,000")
    expect(box).to_have_value(long_question)  # kept whole, for the user to shorten
    assert chat_count(page) == 0


def test_examples_come_from_the_index_and_ask_when_clicked(page: Page, app_url: str) -> None:
    page.goto(app_url)
    examples = page.locator("#qa-examples button")
    expect(examples.first).to_contain_text("What is “")
    first = examples.first.inner_text().strip()
    examples.first.click()
    user = page.locator("#qa-chat [data-testid='user']")
    expect(user).to_have_count(1)
    shown = first.removesuffix("...").removesuffix("…")  # long examples are cut on their button
    assert user.first.inner_text().strip().startswith(shown)
    expect(page.locator("#qa-chat [data-testid='bot']")).to_have_count(1)


def test_as_of_and_sources_change_what_is_cited(page: Page, app_url: str) -> None:
    page.goto(app_url)
    page.locator("#qa-scope").get_by_text("Time and sources").click()
    ask(page, "Who won the mayoral race in Carrow Bay?")
    card = page.locator("#qa-src-0-1")
    expect(card.locator(".qa-title")).to_have_text("Kessock County certifies Carrow Bay mayoral recount")
    expect(card.locator(".qa-meta")).to_contain_text("2026-03-23")
    expect(card.locator(".qa-meta")).to_contain_text("p. 1")  # the PDF's page
    expect(page.locator("#qa-chat [data-testid='bot']").last).to_contain_text("As of 23 March 2026")
    shoot(page, "time-and-sources")

    as_of = page.locator("#qa-as-of input").first
    as_of.fill("2026-03-12")
    as_of.press("Enter")
    ask(page, "Who won the mayoral race in Carrow Bay?")
    for meta in page.locator("#qa-sources .qa-meta").all_inner_texts():
        assert "2026-03-23" not in meta  # published after "as of": never cited

    as_of.fill("")
    as_of.press("Enter")
    picker = page.locator("#qa-source-pick input").first
    picker.fill("wikipedia")
    picker.press("Enter")
    ask(page, "Who won the mayoral race in Carrow Bay?")
    for meta in page.locator("#qa-sources .qa-meta").all_inner_texts():
        assert meta.startswith("wikipedia")


def test_export_and_feedback(page: Page, app_url: str, real_index: Path) -> None:
    page.goto(app_url)
    ask(page, "What did Ukraine vow to do in Bakhmut?")
    ask(page, "How many civilians remain there?")

    with page.expect_download() as download:
        page.locator("#qa-export-json").click()
    document = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [t["question"] for t in document["turns"]] == [
        "What did Ukraine vow to do in Bakhmut?",
        "How many civilians remain there?",
    ]
    assert "bolster its defenses" in document["turns"][0]["answer"]
    assert document["turns"][0]["citations"][0]["paragraph"] == 4
    with page.expect_download() as download:
        page.locator("#qa-export-md").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## 2. How many civilians remain there?" in markdown

    feedback = real_index / "feedback.jsonl"
    before = feedback.read_text(encoding="utf-8").count("\n") if feedback.exists() else 0
    page.locator("#qa-chat [data-testid='bot']").first.hover()
    page.locator("#qa-chat").get_by_role("button", name="Like", exact=True).first.click()
    expect(page.locator("#qa-status")).to_contain_text("Feedback thanks")
    lines = feedback.read_text(encoding="utf-8").splitlines()
    assert len(lines) == before + 1
    record = json.loads(lines[-1])
    assert record["rating"] == "up" and record["question"] == "What did Ukraine vow to do in Bakhmut?"
    assert record["citation_keys"] and record["citation_keys"][0].startswith("news/russia-reaffirms")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_highlight_is_readable_in_both_themes(chromium: Browser, app_url: str, scheme: str) -> None:
    page = new_page(chromium, scheme=scheme)
    try:
        page.goto(app_url)
        ask(page, "What did Ukraine vow to do in Bakhmut?")
        dark = page.evaluate("!!document.querySelector('.dark')")
        assert dark is (scheme == "dark")
        colours = page.eval_on_selector(
            "#qa-sources mark",
            "m => { const s = getComputedStyle(m); return [s.color, s.backgroundColor]; }",
        )
        assert contrast(*colours) >= 7.0, colours
        if scheme == "dark":
            shoot(page, "dark")
    finally:
        page.context.close()


def test_phone_width_shows_the_sources_right_after_the_answer(chromium: Browser, app_url: str) -> None:
    page = new_page(chromium, width=390, height=844)
    try:
        page.goto(app_url)
        ask(page, "What did Ukraine vow to do in Bakhmut?")
        card = page.locator("#qa-src-0-1").bounding_box()
        box = page.locator("#qa-question").bounding_box()
        examples = page.locator("#qa-examples").bounding_box()
        assert card and box and examples
        assert box["y"] < card["y"] < examples["y"]  # the sources come before the examples
        assert card["y"] - (box["y"] + box["height"]) < 260  # only the chat's own buttons between
        page.locator("#qa-chat a.qa-ref").first.click()
        page.wait_for_timeout(1200)
        assert in_viewport(page, "#qa-src-0-1")
        shoot(page, "phone")
    finally:
        page.context.close()


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
    yield page, requested
    context.close()


def test_hostile_article_stays_inert_text(hostile_page: tuple[Page, list[str]]) -> None:
    page, requested = hostile_page
    sources = page.locator("#qa-sources")
    expect(sources.locator(".qa-card").first).to_contain_text("lighthouse.md")

    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator(f'img[src*="{TRACKER_HOST}"]').count() == 0
    assert sources.locator("img, script").count() == 0
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    assert not [h for h in hrefs if h.lower().startswith("javascript:")], hrefs
    assert "Open original" not in sources.inner_text()  # the javascript: url gets no link

    # Shown as text, in the passage, its title and the chat.
    expect(sources).to_contain_text("<script>window.__pwned=1</script>")
    expect(sources).to_contain_text('<img src=x onerror="window.__pwned=1">Lighthouse')
    expect(sources.locator("mark").first).to_contain_text("[the log](javascript:window.__pwned=1)")
    bot = page.locator("#qa-chat [data-testid='bot']").first
    expect(bot).to_contain_text("<script>window.__pwned=1</script>")

    # The source viewer shows the whole article as text too.
    sources.get_by_role("button", name="Open article").first.click()
    viewer = page.locator("#qa-viewer")
    expect(viewer.locator(".qa-target")).to_contain_text("<script>window.__pwned=1</script>")
    expect(viewer.locator(".qa-article-title")).to_contain_text('<img src=x onerror="window.__pwned=1">')
    assert viewer.locator("img, script").count() == 0
    assert "Open original" not in viewer.inner_text()
    page.wait_for_timeout(1000)
    assert page.evaluate("window.__pwned") is None

    # Only what the article asked for is asserted here; Gradio's own assets were all served
    # from 127.0.0.1 when this was written (no fonts or CDN requests).
    hosts = {urlsplit(u).hostname for u in requested if urlsplit(u).scheme in ("http", "https")}
    assert TRACKER_HOST not in hosts, [u for u in requested if TRACKER_HOST in u]
    assert HOST in hosts


def test_article_urls_are_not_links_in_the_chat(hostile_page: tuple[Page, list[str]]) -> None:
    page, _ = hostile_page
    bot = page.locator("#qa-chat [data-testid='bot']").first
    links = bot.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert links and all(h.startswith("#qa-src-") for h in links), links  # only our [n] markers
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
    expect(page.locator("#qa-sources")).to_contain_text(
        "the passages that answer it appear here", timeout=5000
    )
