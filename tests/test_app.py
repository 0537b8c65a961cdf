"""The chat handler as a plain function (no server), and the escaping of untrusted text."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import respond
from qa import QA, build_index
from qa.render import answer_markdown, escape_markdown, safe_url, sources_html
from tests.conftest import FAKE_ABSTAIN, FakeEncoder


@pytest.fixture
def qa(articles: Path, fake_encoder: FakeEncoder) -> QA:
    (articles / "evil.md").write_text(
        "---\ntitle: <img src=x onerror=alert(1)>Evil\nurl: javascript:alert(1)\n---\n\n"
        "The lighthouse keeper <script>alert('x')</script> counted seventeen gulls on the pier. "
        "[click](javascript:alert(2)) ![tracker](https://tracker.example/p.png)\n",
        encoding="utf-8",
    )
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    return QA.open("idx", encoder=fake_encoder, abstain_below=FAKE_ABSTAIN)


def test_respond_appends_question_and_cited_answer(qa: QA) -> None:
    history, sources, turns, box = respond(qa, "When did the harbour bridge reopen?", [], [])
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert "[1]" in history[1]["content"] and "Harbour bridge reopens, paragraph 1" in history[1]["content"]
    assert "<mark>The harbour bridge reopened on Friday" in sources
    assert len(turns) == 1 and box == ""


def test_follow_up_in_the_chat_uses_the_previous_turn(qa: QA) -> None:
    history, _, turns, _ = respond(qa, "When did the harbour bridge reopen?", [], [])
    history, sources, turns, _ = respond(qa, "What did they replace?", history, turns)
    assert len(history) == 4 and len(turns) == 2
    assert "steel cables" in sources


def test_bad_question_is_shown_in_the_chat_and_keeps_the_text(qa: QA) -> None:
    history, _, turns, box = respond(qa, "   ", [], [])
    assert "question is empty" in history[-1]["content"]
    assert turns == [] and box == "   "


def test_article_html_is_inert(qa: QA) -> None:
    answer = qa.ask("lighthouse keeper gulls pier")
    assert answer.citations[0].article_id == "evil.md"
    markdown, html = answer_markdown(answer), sources_html(answer)
    for rendered in (markdown, html):
        assert "<script" not in rendered and "<img" not in rendered
        assert 'href="javascript:' not in rendered
    assert "](" not in markdown  # no Markdown link or image survives escaping
    assert "&lt;script&gt;alert" in html  # shown as text
    assert "open source" not in html.split("evil.md")[0] + html.split("evil.md")[1].split("</div>")[0]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"),
        ("[x](javascript:alert(1))", "\\[x\\]\\(javascript:alert\\(1\\)\\)"),
        ("![i](https://t.example/p.png)", "\\!\\[i\\]\\(https&#58;//t\\.example/p\\.png\\)"),
    ],
)
def test_escape_markdown(text: str, shown: str) -> None:
    assert escape_markdown(text) == shown


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://ok.example/a", True),
        ("javascript:alert(1)", False),
        ("data:text/html,x", False),
        (None, False),
    ],
)
def test_only_http_links(url: str | None, safe: bool) -> None:
    assert (safe_url(url) is not None) is safe
