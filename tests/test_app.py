"""The web chat's pieces as plain functions (no server): rendering, session, feedback, export, launch checks."""

from __future__ import annotations

import html
import json
import re
import socket
import threading
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

import app
from qa import MAX_QUESTION_CHARS, QA, BadInputError, build_index
from qa.models.embed import BackgroundEncoder
from qa.results import Answer, ArticleSummary, Citation
from qa.web.page import build_page, open_article
from qa.web.records import (
    FEEDBACK_FILE,
    WRONG_CITATION,
    append_feedback,
    chat_json,
    chat_markdown,
    feedback_record,
    write_exports,
)
from qa.web.render import (
    answer_markdown,
    article_html,
    article_list_html,
    escape_text,
    safe_url,
    site_of,
    sources_html,
)
from qa.web.session import Entry, ask, entry_of_message, example_questions, input_problem, messages
from tests.conftest import FAKE_ABSTAIN, FakeEncoder, WordReader

TRICKY = 'Russia\'s "Wagner" <b>group</b> & co. [x](javascript:alert(1)) *bold* _u_ $$x^2$$ 1. # http://t.example/p.png'


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


def citation(**changes: object) -> Citation:
    text = "Intro words. " + TRICKY + " More."
    start = 100
    fields: dict[str, object] = {
        "number": 1,
        "score": 0.71234,
        "passage_key": "news/a.txt@0123456789abcdef",
        "article_id": "news/a.txt",
        "title": "Wagner's push",
        "url": "https://news.example/a",
        "published": "2023-03-06",
        "source_path": "news/a.txt",
        "paragraph": 4,
        "text": text,
        "start": start,
        "end": start + len(text),
        "sentence": TRICKY,
        "sentence_start": start + len("Intro words. "),
        "sentence_end": start + len("Intro words. ") + len(TRICKY),
    }
    fields.update(changes)
    return Citation(**fields)  # type: ignore[arg-type]


def plain(rendered: str) -> str:
    """What a reader sees: tags dropped, character references decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


# ---- rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", [TRICKY, "it's", "a < b && c > d", "100% of `code` | table | ~x~", "café 東京 — “quoted”"]
)
def test_escaped_text_reads_exactly_as_written_and_has_no_markup(text: str) -> None:
    escaped = escape_text(text)
    assert html.unescape(escaped) == text
    assert not set("<>'\"[]()*_`$:#&") & set(re.sub(r"&#\d+;", "", escaped))
    assert "&#x27;" not in escaped and "\\" not in escaped  # the old double escaping is gone


def test_answer_shows_the_sentence_with_clickable_markers() -> None:
    answer = Answer("Why?", f"{TRICKY} [1]", False, (citation(),))
    rendered = answer_markdown(answer, turn=3)
    assert plain(rendered) == f"{TRICKY} [1]"
    assert '<a class="qa-ref" href="#qa-src-3-1"' in rendered
    assert "Searched as" not in rendered  # not a follow-up


def test_follow_up_shows_what_it_was_searched_as() -> None:
    answer = Answer("And then?", "Done. [1]", False, (citation(),), resolved_query="What's next? And then?")
    assert "Searched as: “What's next? And then?”" in plain(answer_markdown(answer, 0))


def test_abstention_reads_differently_from_an_answer() -> None:
    answer = Answer("Who?", "", True, (citation(),))
    rendered = answer_markdown(answer, 0)
    assert 'class="qa-notfound"' in rendered and "Not found in the articles." in plain(rendered)
    panel = sources_html(answer, 0)
    assert "Closest matches" in panel and "<mark>" not in panel  # nothing is highlighted as an answer


def test_cards_highlight_only_the_cited_sentence() -> None:
    cited, other = citation(), citation(number=2, paragraph=7, passage_key="news/a.txt@fedcba9876543210")
    panel = sources_html(Answer("Why?", "x [1]", False, (cited, other)), turn=2)
    assert panel.count("<mark>") == 1
    _, first, second = panel.split("<article")
    assert 'id="qa-src-2-1"' in first and "qa-cited" in first
    assert 'id="qa-src-2-2"' in second and "qa-other" in second and "<mark>" not in second
    assert "Other close matches" in first  # the heading before the quieter cards
    # Title, site, date and paragraph are visible; score, file and key only inside Details.
    visible = re.sub(r"<details.*?</details>", "", first)
    assert "Wagner's push" in plain(visible) and "news.example · 2023-03-06 · paragraph 4" in plain(visible)
    assert "score" not in visible and "news/a.txt" not in plain(visible)
    details = re.search(r"<details.*?</details>", first)
    assert details and "score 0.71" in plain(details.group()) and "file news/a.txt" in plain(details.group())
    assert plain(first).count(TRICKY) == 1
    assert 'href="https://news.example/a"' in first  # Open original


def test_a_card_read_by_the_reader_gives_its_probability_in_details() -> None:
    read, unread = citation(confidence=0.934), citation(number=2, passage_key="news/a.txt@fedcba9876543210")
    _, first, second = sources_html(
        Answer("Why?", "x [1]", False, (read, unread), confidence=0.934), 0
    ).split("<article")
    details = re.search(r"<details.*?</details>", first)
    assert details and "reader: answers with probability 93%" in plain(details.group())
    assert "reader" not in plain(second)  # the fast path, or a passage past those read


def test_unsafe_urls_get_no_link() -> None:
    panel = sources_html(Answer("Why?", "x [1]", False, (citation(url="javascript:alert(1)"),)), 0)
    assert 'href="javascript' not in panel and "Open original" not in panel


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


def test_site_is_the_host_or_else_the_folder() -> None:
    assert site_of("news/a.txt", "https://www.news.example/x") == "news.example"
    assert site_of("news/a.txt", None) == "news"
    assert site_of("a.txt", "javascript:x") is None


# ---- the session: asking, bubbles, examples ---------------------------------------------------


def test_a_question_and_a_follow_up_make_four_bubbles(qa: QA) -> None:
    first = ask(qa, "When did the harbour bridge reopen?", [])
    assert first.answer is not None and not first.answer.abstained
    second = ask(qa, "What did they replace?", [first])
    assert second.answer is not None and "steel cables" in second.answer.citations[0].text
    assert second.answer.resolved_query != second.question  # searched with the first question
    bubbles = messages([first, second])
    assert [m["role"] for m in bubbles] == ["user", "assistant"] * 2
    assert 'href="#qa-src-1-1"' in bubbles[3]["content"]
    assert entry_of_message([first, second], 3) is second and entry_of_message([first, second], 2) is None


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_question_is_refused_before_anything_is_asked(text: str) -> None:
    assert input_problem(text) == "Type a question first."


def test_over_long_question_is_refused_with_the_limit_not_cut() -> None:
    problem = input_problem("x" * 5000)
    assert problem is not None and f"{MAX_QUESTION_CHARS:,}" in problem and "5,000" in problem
    assert input_problem("x" * MAX_QUESTION_CHARS) is None


def test_errors_become_an_entry_not_an_exception(qa: QA) -> None:
    entry = ask(qa, "x" * 5000, [])
    assert entry.answer is None and entry.error and "limit" in entry.error


def test_the_box_is_emptied_when_asked_so_a_next_question_typed_meanwhile_stays(
    qa: QA, tmp_path: Path
) -> None:
    """The page's submit handler: its first update (sent before the answer is looked for) empties
    the box; the answer's update leaves the box alone, whatever was typed in it meanwhile."""
    page = build_page(qa, tmp_path / "exports")
    submit = next(f.fn for f in page.fns.values() if f.name == "on_submit")
    assert submit is not None
    request = SimpleNamespace(session_hash="s1")
    updates = list(submit("When did the harbour bridge reopen?", [], None, None, None, [], request))
    (chat, _, state, box, status, *_), answered = updates[0], updates[-1]
    assert len(updates) == 2 and box == "" and state == [] and status == ""
    assert chat[-1]["role"] == "assistant" and "qa-loading" in chat[-1]["content"]
    assert answered[3] == gr.skip()  # the box: untouched
    assert "qa-loading" not in answered[0][-1]["content"] and len(answered[2]) == 1
    refused = list(submit("   ", [], None, None, None, [], request))
    assert len(refused) == 1 and refused[0][3] == "   " and "Type a question" in refused[0][4]


def test_examples_come_from_the_index_titles(qa: QA) -> None:
    titles = {a.title for a in qa.articles()}
    examples = example_questions(qa.articles())
    assert 1 <= len(examples) <= 4 and len(set(examples)) == len(examples)
    for q in examples:
        assert re.fullmatch(r"What is “(.+)” about\?", q)
        assert re.fullmatch(r"What is “(.+)” about\?", q).group(1) in titles  # type: ignore[union-attr]
    # Dated articles come first, newest first.
    summaries = [
        ArticleSummary("a.txt", "Old story", None, "2020-01-01", 3),
        ArticleSummary("b.txt", "Undated story", None, None, 3),
        ArticleSummary("c.txt", "New story", None, "2024-05-01", 3),
    ]
    assert example_questions(summaries, 2) == ["What is “New story” about?", "What is “Old story” about?"]


def test_article_list_filters_by_title(qa: QA) -> None:
    listing = article_list_html(qa.articles(), "bridge")
    assert "Harbour bridge reopens" in plain(listing) and "Comet" not in listing
    assert "No article title contains" in article_list_html(qa.articles(), "zeppelin")


# ---- source viewer ----------------------------------------------------------------------------


def test_viewer_opens_the_article_at_the_cited_paragraph(qa: QA) -> None:
    answer = qa.ask("When did the harbour bridge reopen?")
    c = answer.citations[0]
    request = json.dumps({"key": c.passage_key, "start": c.sentence_start, "end": c.sentence_end})
    viewer = open_article(qa, request)
    assert f'id="qa-para-{c.paragraph}" class="qa-para qa-target"' in viewer
    assert f"<mark>{escape_text(c.sentence)}</mark>" in viewer
    assert "Harbour bridge reopens" in viewer
    # The newsletter line is shown, greyed and labelled, not hidden.
    boilerplate = re.search(r'<p id="qa-para-\d+" class="qa-para qa-boilerplate">.*?</p>', viewer)
    assert boilerplate and "Subscribe to our newsletter" in plain(boilerplate.group())
    assert "not article text" in plain(boilerplate.group())


def test_viewer_handles_whole_articles_and_bad_requests(qa: QA) -> None:
    whole = open_article(qa, json.dumps({"article": "news/harbour.txt"}))
    assert "qa-target" not in whole and "Engineers replaced the steel cables" in whole
    assert "not a source this page made" in open_article(qa, "{not json")
    gone = open_article(qa, json.dumps({"key": "news/harbour.txt@0000000000000000"}))
    assert "qa-error" in gone and "Search again" in gone


def test_hostile_article_stays_text_everywhere(qa: QA) -> None:
    answer = qa.ask("lighthouse keeper gulls pier")
    assert answer.citations[0].article_id == "evil.md"
    view = qa.article("evil.md")
    for rendered in (answer_markdown(answer, 0), sources_html(answer, 0), article_html(view, 1)):
        assert "<script" not in rendered and "<img" not in rendered
        assert "javascript:" not in rendered.lower()
        assert "](" not in rendered  # no Markdown link or image
    assert "<script>alert('x')</script>" in plain(sources_html(answer, 0))


# ---- feedback and export --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("liked", "rating", "reason"),
    [
        (True, "up", None),
        (False, "down", None),
        ("Like", "up", None),
        (WRONG_CITATION, "down", WRONG_CITATION),
    ],
)
def test_feedback_lines_are_appended_beside_the_index(
    qa: QA, liked: bool | str, rating: str, reason: str | None
) -> None:
    entry = ask(qa, "When did the harbour bridge reopen?", [])
    assert entry.answer is not None
    record = feedback_record(entry, qa.generation, liked)
    path = append_feedback(qa.index_dir, record)
    append_feedback(qa.index_dir, feedback_record(entry, qa.generation, True))
    assert path == qa.index_dir / FEEDBACK_FILE
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    saved = lines[0]
    assert (saved["rating"], saved["reason"]) == (rating, reason)
    assert saved["question"] == "When did the harbour bridge reopen?"
    assert saved["answer"] == entry.answer.text and saved["generation"] == qa.generation
    assert saved["citation_keys"] == [c.passage_key for c in entry.answer.citations]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", saved["time"])


def test_feedback_and_export_keep_the_readers_confidence(
    articles: Path, fake_encoder: FakeEncoder, tmp_path: Path
) -> None:
    """What the verdict rested on, so that a threshold can be refitted from readers' feedback."""
    build_index(articles, "read-idx", encoder=fake_encoder, show_progress=False)
    with QA.open("read-idx", encoder=fake_encoder, reader=WordReader()) as read:
        entry = ask(read, "When did the harbour bridge reopen?", [])
        assert entry.answer is not None and entry.answer.confidence is not None
        assert feedback_record(entry, read.generation, False)["confidence"] == entry.answer.confidence
        turn = json.loads(chat_json([entry], read.generation))["turns"][0]
        assert turn["confidence"] == entry.answer.confidence


def test_export_holds_every_question_answer_and_citation(qa: QA, tmp_path: Path) -> None:
    first = ask(qa, "When did the harbour bridge reopen?", [])
    second = ask(qa, "What did they replace?", [first])
    failed = Entry("x" * 5000, error="too long")
    entries = [first, second, failed]
    document = json.loads(chat_json(entries, qa.generation))
    assert [t["question"] for t in document["turns"]] == [e.question for e in entries]
    assert document["turns"][2]["error"] == "too long"
    for turn, entry in zip(document["turns"][:2], entries[:2], strict=True):
        assert entry.answer is not None
        assert turn["answer"] == entry.answer.text
        cited = entry.answer.citations
        assert [c["passage_key"] for c in turn["citations"]] == [c.passage_key for c in cited]
        assert turn["citations"][0]["sentence"] == cited[0].sentence
        assert {"title", "paragraph", "url", "sentence"} <= set(turn["citations"][0])
    markdown = chat_markdown(entries, qa.generation)
    assert "## 1. When did the harbour bridge reopen?" in markdown
    assert f"[1] Harbour bridge reopens, paragraph {first.answer.citations[0].paragraph}" in markdown  # type: ignore[union-attr]
    assert "_Searched as:" in markdown and "Error: too long" in markdown
    md_file, json_file = write_exports(entries, qa.generation, tmp_path / "out")
    assert md_file.read_text(encoding="utf-8").startswith("# Chat export")
    assert json.loads(json_file.read_text(encoding="utf-8"))["generation"] == qa.generation


# ---- launch checks (no server started) ------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("example.org", False)],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert app.is_loopback(host) is loopback


def test_open_address_without_a_login_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["--host", "0.0.0.0", "--index", "nowhere"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to serve 0.0.0.0 without a login") and "--auth-file" in err
    assert "Traceback" not in err


def test_busy_port_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert app.main(["--port", str(port), "--index", "nowhere"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: port {port} on 127.0.0.1 is in use (another app?). Start with --port N "
        "(or QA_PORT=N) to use another port."
    )


def test_options_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_PORT", "8123")
    monkeypatch.setenv("QA_HOST", "0.0.0.0")
    monkeypatch.setenv("QA_AUTH_FILE", "users.txt")
    monkeypatch.setenv("QA_MIN_CONFIDENCE", "0.8")
    args = app.parse_args([])
    assert (args.port, args.host, args.auth_file, args.min_confidence) == (
        "8123",
        "0.0.0.0",
        "users.txt",
        0.8,
    )


def test_a_bad_min_confidence_is_explained_before_the_first_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert app.main(["--min-confidence", "1.5", "--index", str(tmp_path / "new-index")]) == 1
    err = capsys.readouterr().err
    assert "from 0 to 1" in err and "Traceback" not in err
    assert not (tmp_path / "new-index").exists()  # nothing was built


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_bad_port_is_explained(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["--port", port]) == 1
    assert "--port must be a number from 1 to 65535" in capsys.readouterr().err


def test_missing_auth_file_is_explained(capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["--auth-file", "no-such-users.txt"]) == 1
    err = capsys.readouterr().err
    assert "no-such-users.txt" in err and "qa passwd" in err and "Traceback" not in err


# ---- fast start: the model loads in the background --------------------------------------------


def test_a_question_asked_while_the_model_loads_waits_for_it(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    release = threading.Event()

    def slow_load() -> FakeEncoder:
        release.wait(30)
        return fake_encoder

    encoder = BackgroundEncoder(slow_load, fake_encoder.name, fake_encoder.dim)
    qa = QA.open("idx", encoder=encoder, abstain_below=FAKE_ABSTAIN)  # opens before the model is in
    assert not qa.model_ready
    answers: list[Answer] = []
    asking = threading.Thread(target=lambda: answers.append(qa.ask("When did the harbour bridge reopen?")))
    asking.start()
    asking.join(0.3)
    assert asking.is_alive() and not answers  # waiting, not failing
    release.set()
    asking.join(30)
    assert qa.model_ready and answers and "reopened on Friday" in answers[0].citations[0].sentence


def test_a_model_that_fails_to_load_gives_its_error_to_the_question(
    articles: Path, fake_encoder: FakeEncoder
) -> None:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)

    def broken() -> FakeEncoder:
        raise BadInputError("Cannot load the model in '/gone': no such folder")

    qa = QA.open("idx", encoder=BackgroundEncoder(broken, fake_encoder.name, fake_encoder.dim))
    qa_error = ask(qa, "When did the harbour bridge reopen?", [])
    assert qa_error.answer is None and qa_error.error and "Cannot load the model" in qa_error.error


def test_the_page_scope_fields_become_ask_keywords() -> None:
    from qa.web.session import scope_of, scope_problem, source_choices

    scope = scope_of(" 2026-03-12 ", "", None, ["news", 3])
    assert scope == {"as_of": "2026-03-12", "since": None, "until": None, "sources": ["news"]}
    assert scope_problem(scope) is None
    assert "as_of must be a date" in (scope_problem(scope_of("soon", "", "", [])) or "")
    assert "is after until" in (scope_problem(scope_of("", "2026-02-01", "2026-01-01", [])) or "")
    summaries = [
        ArticleSummary("news/a.txt", "A", "https://www.news.example/a", None, 3),
        ArticleSummary("wikipedia/b.txt", "B", None, None, 2),
        ArticleSummary("c.txt", "C", None, None, 1),
    ]
    assert source_choices(summaries) == ["news.example", "wikipedia"]
