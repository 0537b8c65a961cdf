from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import BadInputError
from qa.ingest import read_corpus
from tests.conftest import SEED


def test_seed_article_one_paragraph_per_line(tmp_path: Path) -> None:
    corpus = read_corpus(SEED)
    (article,) = corpus.articles
    raw = SEED.read_bytes().decode("utf-8")
    lines = [line for line in raw.splitlines() if line.strip()]
    assert article.text == raw
    assert len(article.paragraphs) == len(lines) == 22
    for p, line in zip(article.paragraphs, lines, strict=True):
        assert raw[p.start : p.end] == line.strip()
    assert article.title == "Russia Reaffirms Bakhmut Push"  # no short first line: file name, title case


def test_txt_short_first_line_is_the_title(articles: Path) -> None:
    corpus = read_corpus(articles)
    harbour = next(a for a in corpus.articles if a.id == "news/harbour.txt")
    assert harbour.title == "Harbour bridge reopens"
    assert harbour.paragraphs[0].text_of(harbour).startswith("The harbour bridge reopened")
    assert [p.number for p in harbour.paragraphs] == [1, 2, 3]


def test_markdown_front_matter_and_heading(articles: Path) -> None:
    corpus = read_corpus(articles)
    md = next(a for a in corpus.articles if a.id == "science.md")
    raw = (articles / "science.md").read_text(encoding="utf-8")
    assert md.text == raw
    assert (md.title, md.url, md.published, md.byline) == (
        "Comet seen over Lapland",
        "https://example.org/comet",
        "2024-01-05",
        "A. Writer",
    )
    texts = [p.text_of(md) for p in md.paragraphs]
    assert texts == [
        "Astronomers in Lapland photographed a green comet on Thursday night.",
        "The comet will return in fifty thousand years, they said.",
    ]


def test_jsonl_articles_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text(
        '{"id": "a1", "title": "First", "text": "Alpha text.\\n\\nBeta text.", "url": "https://x.org/1"}\n'
        "not json\n"
        '{"title": "No text"}\n'
        '{"title": "Second", "text": "Gamma."}\n',
        encoding="utf-8",
    )
    corpus = read_corpus(path)
    assert [a.id for a in corpus.articles] == ["feed.jsonl#a1", "feed.jsonl#4"]
    first = corpus.articles[0]
    assert [p.text_of(first) for p in first.paragraphs] == ["Alpha text.", "Beta text."]
    assert first.url == "https://x.org/1"
    reasons = [s.reason for s in corpus.skipped]
    assert any("line 2: not valid JSON" in r for r in reasons)
    assert any("line 3: missing or empty 'text'" in r for r in reasons)


HTML_PAGE = """<!doctype html><html><head><title>Storm closes port - Daily Planet</title>
<link rel="canonical" href="https://planet.example/storm">
<meta name="author" content="Lois Lane"><meta property="article:published_time" content="2024-02-03">
</head><body><nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<div id="cookie">We use cookies to improve your experience. <button>Accept all cookies</button></div>
<article><h1>Storm closes port</h1>
<p>A winter storm closed the port of Ostend on Saturday, stranding forty ships at anchor offshore.</p>
<script>alert('pwned')</script>
<p>Harbour officials said the port would reopen once winds drop below gale force on Monday.</p>
<p>Dock workers were sent home with full pay while the cranes were secured against the wind.</p>
</article><footer>Copyright 2024 Daily Planet. All rights reserved.</footer></body></html>"""


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "storm.html").write_text(HTML_PAGE, encoding="utf-8")
    (article,) = read_corpus(tmp_path).articles
    texts = [p.text_of(article) for p in article.paragraphs]
    assert texts[0].startswith("A winter storm closed the port of Ostend")
    assert any("Dock workers" in t for t in texts)
    joined = "\n".join(texts)
    for junk in ("alert(", "Home", "Accept all cookies", "All rights reserved"):
        assert junk not in joined
    assert article.url == "https://planet.example/storm"
    assert article.byline == "Lois Lane"
    assert article.published == "2024-02-03"
    for p in article.paragraphs:
        assert article.text[p.start : p.end] == p.text_of(article)


def test_hidden_files_and_folders_are_ignored(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.txt").write_text("secret\n\nstuff", encoding="utf-8")
    (tmp_path / ".draft.txt").write_text("draft\n\ntext", encoding="utf-8")
    (tmp_path / "real.txt").write_text("Real title\n\nReal text here.", encoding="utf-8")
    assert [a.id for a in read_corpus(tmp_path).articles] == ["real.txt"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.txt", b"   \n\n  \n", "has no paragraphs"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary file"),
        ("latin1.txt", "Caf\u00e9 au lait\n\nna\u00efve".encode("latin-1"), "not valid UTF-8 (byte 0xe9"),
        ("bad.md", b"---\ntitle: [unclosed\n---\nBody text.", "front matter is not valid YAML"),
        ("nothing.html", b"<html><body><nav>Home</nav></body></html>", "no article text"),
        pytest.param(
            "dump.txt",
            b"Log dump\n\n" + b"words " * 30_000 + b"\n\nA normal closing line.\n",
            "has a paragraph of 179,999 characters (the limit is 100,000): separate its paragraphs",
            id="over-long paragraph",
        ),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    (tmp_path / "good.txt").write_text("Good title\n\nGood text.", encoding="utf-8")
    (tmp_path / name).write_bytes(content)
    corpus = read_corpus(tmp_path)
    assert [a.id for a in corpus.articles] == ["good.txt"]
    (skipped,) = corpus.skipped
    assert skipped.path == name
    assert reason in skipped.reason


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        (lambda p: p, "No articles found in"),
        (lambda p: p / "missing", "does not exist"),
        (lambda p: (p / "notes.csv").write_text("a,b") and p, "No articles found in"),
    ],
)
def test_unusable_folders_raise(tmp_path: Path, setup: object, match: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    target = setup(folder)  # type: ignore[operator]
    with pytest.raises(BadInputError, match=match):
        read_corpus(target)
