"""Property-based tests of the splitter and every article reader, on any text a file may hold.

A citation is only as good as its offsets: whatever the text (NUL bytes, CRLF or lone CR, CJK,
Arabic, Devanagari, emoji with ZWJ, zero-width and direction marks, lines of tens of thousands of
characters), every paragraph and sentence a reader gives must slice its article's text back to
itself, in order and without overlap, and a file a reader cannot use must be refused with
``UnreadableFileError`` (which read_corpus turns into a skip reason), never a raw exception.

The first run found eight bugs (each test's docstring says which); the minimal inputs
hypothesis found are pinned with ``@example`` so they are tried on every run.
"""

from __future__ import annotations

import functools
import html
import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from qa.ingest import Article, read_corpus
from qa.ingest.decode import MAX_NUL_SHARE
from qa.ingest.errors import UnreadableFileError
from qa.ingest.feed import read_feed
from qa.ingest.jsonlines import read_jsonl
from qa.ingest.markdown import read_markdown
from qa.ingest.pdf import read_pdf
from qa.ingest.plaintext import read_text
from qa.ingest.webpage import read_html
from qa.text.spans import TRIM, split_paragraphs, split_sentences

# Reproducible in CI: the same examples on every run, no example database left behind.
PROPERTIES = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")

# ---- strategies ------------------------------------------------------------------------------

# The awkward parts of real files, mixed with arbitrary text.
AWKWARD = [
    "\x00",
    "\r\n",
    "\r",
    "\n",
    "\n\n",
    "\r\n\r\n",
    "\r\r",
    " ",
    "\t",
    "\u00a0",
    "\u200b",
    "\u200c",
    "\u200d",
    "\ufeff",
    "\u200e",
    "\u200f",
    "\u202e",
    "\u2028",
    "\x85",
    "\u3000",
    "👍",
    "👩\u200d👩\u200d👧",
    "🏳️\u200d🌈",
    "🇫🇮",
    "北京市今天下雨。",
    "مرحبا بالعالم.",
    "नमस्ते दुनिया।",
    "Mr. ",
    "U.S. ",
    ". ",
    "! ",
    "? ",
    '." ',
    "e.g. ",
    "The harbour bridge reopened.",
    "It cost 4.5 million.",
    "“Quoted.” ",
    "(",
    "#",
    "-",
]
WORDS = st.from_regex(r"[A-Z]?[a-z]{1,9}", fullmatch=True)


def texts(*, nul: bool = True, max_pieces: int = 40) -> st.SearchStrategy[str]:
    """Arbitrary text, heavy on line endings, scripts and invisible characters."""
    awkward = [a for a in AWKWARD if nul or "\x00" not in a]
    chars = st.characters(blacklist_categories=["Cs"], blacklist_characters="" if nul else "\x00")
    piece = st.one_of(st.sampled_from(awkward), WORDS, st.text(chars, max_size=12))
    return st.lists(piece, max_size=max_pieces).map("".join)


def long_lines(*, nul: bool = True) -> st.SearchStrategy[str]:
    """Text around one line of tens of thousands of characters."""
    repeated = st.sampled_from(["word ", "北京", "ab\u200d", "A b. ", "🇫🇮", "مرحبا ", "x\u202e"])
    return st.builds(
        lambda head, unit, count, tail: head + unit * count + tail,
        texts(nul=nul, max_pieces=8),
        repeated,
        st.integers(2_000, 8_000),
        texts(nul=nul, max_pieces=8),
    )


def any_text(*, nul: bool = True) -> st.SearchStrategy[str]:
    return st.one_of(texts(nul=nul), texts(nul=nul), long_lines(nul=nul))


# Characters XML 1.0 allows (feeds): no C0 controls but tab, LF, CR; no surrogates, no U+FFFE/F.
# No C1 controls either: feedparser reads them as windows-1252 ("\x80" becomes "€"), its choice.
C1 = "".join(chr(c) for c in range(0x80, 0xA0))
XML_CHARS = st.characters(
    blacklist_categories=["Cs"],
    blacklist_characters="".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r") + "\ufffe\uffff" + C1,
)


def xml_texts(max_pieces: int = 20) -> st.SearchStrategy[str]:
    """Text a feed can carry: the awkward pieces without NUL, and XML-legal characters."""
    awkward = [a for a in AWKWARD if "\x00" not in a and not set(a) & set(C1)]
    piece = st.one_of(st.sampled_from(awkward), WORDS, st.text(XML_CHARS, max_size=12))
    return st.lists(piece, max_size=max_pieces).map("".join)


# YAML values that take yaml's typed paths: dates, tags, anchors, flow collections, deep nesting.
YAML_VALUES = st.one_of(
    texts(nul=False, max_pieces=4).map(lambda t: t.replace("\n", " ").replace("\r", " ")),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?", fullmatch=True),
    st.sampled_from(
        ["!!int", "!!float", "!!bool", "!!timestamp", "!!binary", "!!set", "!!str", "&a", "*a", ""]
    ).flatmap(lambda tag: WORDS.map(lambda w: f"{tag} {w}")),
    st.sampled_from(["null", "~", "[]", "{}", "[a, b]", "{a: 1}", "|", ">", "'", '"', "- x", "2023"]),
    st.integers(1, 1_200).map(lambda depth: "[" * depth + "]" * depth),
)


@st.composite
def markdown_documents(draw: st.DrawFn) -> str:
    """A .md file: maybe front matter (known and unknown keys), headings and paragraphs."""
    parts: list[str] = []
    if draw(st.booleans()):
        keys = st.sampled_from(["title", "url", "published", "date", "byline", "author", "id", "tags"])
        lines = draw(st.lists(st.tuples(keys, YAML_VALUES), max_size=5))
        newline = draw(st.sampled_from(["\n", "\r\n"]))
        bom = draw(st.sampled_from(["", "\ufeff"]))
        body = newline.join(f"{key}: {value}" for key, value in lines)
        parts.append(f"{bom}---{newline}{body}{newline}---{newline}")
    blocks = st.one_of(any_text(nul=False), WORDS.map(lambda w: f"# {w}"), WORDS.map(lambda w: f"## {w} ##"))
    parts.extend(draw(st.lists(blocks, max_size=6)))
    return draw(st.sampled_from(["\n\n", "\n", "\r\n\r\n"])).join(parts)


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        texts(max_pieces=5),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def jsonl_lines(draw: st.DrawFn) -> str:
    """One line of a .jsonl file: a record, a record with odd fields, or not a record at all."""
    kind = draw(st.sampled_from(["record", "record", "odd", "garbage", "deep", "long number"]))
    if kind == "record":
        record: dict[str, object] = {"text": draw(any_text())}
        for key in draw(st.lists(st.sampled_from(["id", "title", "url", "published", "byline"]), max_size=3)):
            record[key] = draw(st.one_of(texts(max_pieces=3), JSON_VALUES))
        return json.dumps(record)
    if kind == "odd":
        return json.dumps(
            draw(st.dictionaries(st.sampled_from(["text", "id", "title", "published"]), JSON_VALUES))
        )
    if kind == "deep":
        depth = draw(st.integers(1, 3_000))
        return "[" * depth + "]" * depth
    if kind == "long number":  # as an export may write an id or a count
        return '{"text": "Body.", "count": ' + "9" * draw(st.integers(1, 6_000)) + "}"
    return draw(texts(max_pieces=6)).replace("\n", " ")


def rss(items: Sequence[tuple[str, Sequence[str]]], *, declaration: str = '<?xml version="1.0"?>') -> str:
    """An RSS 2.0 feed whose items carry these titles and <p> paragraphs."""
    body = "".join(
        f"<item><title>{html.escape(title)}</title><guid>item-{number}</guid><description><![CDATA["
        + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        + "]]></description></item>"
        for number, (title, paragraphs) in enumerate(items)
    )
    return f'{declaration}<rss version="2.0"><channel><title>Gazette</title>{body}</channel></rss>'


def atom(items: Sequence[tuple[str, Sequence[str]]]) -> str:
    """An Atom feed whose entries carry these titles and escaped-HTML paragraphs."""
    body = "".join(
        f"<entry><title>{html.escape(title)}</title><id>urn:e:{number}</id><content type='html'>"
        + html.escape("".join(f"<p>{html.escape(p)}</p>" for p in paragraphs))
        + "</content></entry>"
        for number, (title, paragraphs) in enumerate(items)
    )
    return f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title>{body}</feed>'


FEED_ITEMS = st.lists(st.tuples(WORDS, st.lists(xml_texts(), min_size=1, max_size=4)), min_size=1, max_size=3)


# ---- what every reader must give ---------------------------------------------------------------


def check_spans(text: str, spans: Sequence[tuple[int, int]], start: int, end: int) -> None:
    """Spans inside [start, end), in order, apart, trimmed, and nothing but whitespace between them."""
    cursor = start
    for s, e in spans:
        assert cursor <= s < e <= end, (spans, start, end)
        piece = text[s:e]
        assert piece == piece.strip(TRIM), piece
        assert not text[cursor:s].strip(TRIM), f"text lost between spans: {text[cursor:s]!r}"
        cursor = e
    assert not text[cursor:end].strip(TRIM), f"text lost after the last span: {text[cursor:end]!r}"


def as_read(text: str) -> str:
    """The text a reader keeps of a UTF-8 file: no byte-order mark, a stray NUL as a space."""
    return text.removeprefix("\ufeff").replace("\x00", " ")


def check_article(article: Article) -> None:
    """Numbered paragraphs in order that slice the text; every paragraph splits into sentences."""
    cursor = 0
    for number, p in enumerate(article.paragraphs, start=1):
        assert p.number == number
        assert cursor <= p.start < p.end <= len(article.text), (p, len(article.text))
        piece = article.text[p.start : p.end]
        assert piece == p.text_of(article)
        assert piece == piece.strip(TRIM), f"paragraph {number} not trimmed: {piece!r}"
        sentences = split_sentences(article.text, p.start, p.end)
        assert sentences, f"paragraph {number} has no sentence: {piece!r}"
        check_spans(article.text, sentences, p.start, p.end)
        assert all("\n" not in article.text[s:e] for s, e in sentences)
        cursor = p.end


def try_read(reader: Callable[[bytes, str], list[Article]], data: bytes, path: str) -> list[Article] | None:
    """The reader's articles, or None when it refuses the file with the project's own error."""
    try:
        return reader(data, path)
    except UnreadableFileError as err:
        assert str(err), "a refusal must say why"
        return None


def corpus_of(name: str, data: bytes) -> tuple[list[Article], list[str]]:
    """Articles and skip reasons of one file read through read_corpus, the real entry point."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, name)
        path.write_bytes(data)
        corpus = read_corpus(path)
    for article in corpus.articles:
        check_article(article)
    return list(corpus.articles), [skip.reason for skip in corpus.skipped]


# ---- the splitter ---------------------------------------------------------------------------


@PROPERTIES
@given(text=any_text(), cut=st.tuples(st.integers(0, 50), st.integers(0, 50)))
def test_paragraph_spans_cover_the_text_exactly(text: str, cut: tuple[int, int]) -> None:
    """Paragraphs of any region are trimmed, ordered and apart, and only whitespace falls between."""
    start, end = min(cut[0], len(text)), max(len(text) - cut[1], 0)
    end = max(start, end)
    spans = split_paragraphs(text, start, end)
    check_spans(text, spans, start, end)
    region_has_blank_line = BLANK_LINE.search(text, start, end) is not None
    for s, e in spans:
        piece = text[s:e]
        # A blank line separates paragraphs; without any, each line is one.
        assert not BLANK_LINE.search(piece) if region_has_blank_line else "\n" not in piece


@PROPERTIES
@given(text=any_text())
def test_sentence_spans_stay_inside_their_paragraph(text: str) -> None:
    """Every sentence slices back inside its paragraph, and a paragraph is all its sentences."""
    for start, end in split_paragraphs(text):
        sentences = split_sentences(text, start, end)
        assert sentences
        check_spans(text, sentences, start, end)
        assert all("\n" not in text[s:e] for s, e in sentences)  # a line break ends a sentence


@pytest.mark.parametrize("mark", [".", "!", "?"])
def test_sentence_splitting_is_not_quadratic_in_a_run_of_punctuation(mark: str) -> None:
    """A dotted leader or "!!!!" line is split in linear time (qa/text/spans.py _SENTENCE_END).

    Found while bounding long lines: ``split_sentences("." * n)`` took 0.3 s at n=5,000 and 25 s
    at 40,000 (one 100,000-character paragraph is allowed): the regex retried the whole run from
    every position in it when no space followed.
    """
    text = "Contents " + mark * 12_000 + "7"
    began = time.process_time()
    spans = split_sentences(text)
    elapsed = time.process_time() - began
    check_spans(text, spans, 0, len(text))
    assert elapsed < 0.5, f"{elapsed:.1f} s CPU for a 12,000-character line"


# ---- plain text ---------------------------------------------------------------------------------


@PROPERTIES
@given(text=any_text())
def test_plain_text_paragraphs_slice_the_file_text(text: str) -> None:
    """read_text: the article text is the file's text and its paragraphs are the splitter's."""
    data = text.encode("utf-8")
    articles = try_read(read_text, data, "news/story.txt")
    if articles is None:
        assert data.count(b"\x00") > MAX_NUL_SHARE * len(data)  # the only refusal for valid UTF-8
        return
    (article,) = articles
    text = as_read(text)
    assert article.text == text
    check_article(article)
    spans = split_paragraphs(text)
    got = [(p.start, p.end) for p in article.paragraphs]
    assert got in (spans, spans[1:])
    if got == spans[1:] and spans:
        assert article.title == text[spans[0][0] : spans[0][1]]


# ---- markdown ---------------------------------------------------------------------------------


@PROPERTIES
@given(document=markdown_documents())
@example(document="---\ntitle: 0000-00-00\n---\n")  # minimal: ValueError "year 0 is out of range"
@example(document="---\ntags: " + "[" * 1_000 + "]" * 1_000 + "\n---\nBody.\n")  # RecursionError
@example(document="---\ntitle: !!timestamp a\n---\n")  # AttributeError inside PyYAML
@example(document="---\ntitle: !!bool a\n---\n")  # KeyError inside PyYAML
def test_markdown_paragraphs_slice_the_file_text(document: str) -> None:
    """read_markdown: front matter of any shape is read or refused with a reason, never raised.

    Found by this test: yaml.safe_load builds dates itself and raised ValueError (``published:
    0000-00-00`` -> "year 0 is out of range") or RecursionError (deep ``[[[``) past a handler
    that caught yaml.YAMLError only, so one bad file stopped the whole build.
    """
    articles = try_read(read_markdown, document.encode("utf-8"), "notes/story.md")
    if articles is None:
        return
    (article,) = articles
    document = as_read(document)
    assert article.text == document
    check_article(article)
    body = {(s, e) for s, e in split_paragraphs(document)}
    front = re.match(r"\A\ufeff?---", document)
    for p in article.paragraphs:
        # Without front matter every paragraph is one of the splitter's; with it, of the body's.
        assert front or (p.start, p.end) in body


# ---- JSON lines -------------------------------------------------------------------------------


@PROPERTIES
@given(lines=st.lists(jsonl_lines(), min_size=1, max_size=5), newline=st.sampled_from(["\n", "\r\n"]))
@example(lines=['{"text": "Body.", "count": ' + "9" * 4_301 + "}"], newline="\n")  # minimal: ValueError
@example(lines=["[" * 100_000 + "]" * 100_000], newline="\n")  # RecursionError
@example(lines=['{"text": "Body."}', '{"text": "Body.", "count": ' + "9" * 4_301 + "}"], newline="\n")
def test_jsonl_reads_every_record_or_names_the_bad_line(lines: list[str], newline: str) -> None:
    """read_jsonl: each record with text becomes an article whose text is that field, exactly.

    Found by this test: json.loads rejects some lines with other errors than JSONDecodeError (a
    number of more than 4,300 digits: ValueError; nesting past the recursion limit:
    RecursionError), and they escaped read_jsonl.
    """
    try:
        result = read_jsonl(newline.join(lines).encode("utf-8"), "feed.jsonl")
    except UnreadableFileError as err:
        assert str(err).startswith(("no usable line", "binary file"))  # a raw NUL in the first 8 KiB
        return
    articles, problems = result
    expected = []
    for line in lines:
        try:  # what json.loads cannot read (past 4,300 digits, too deep) is a problem line
            record = json.loads(line) if line.startswith("{") else None
        except (ValueError, RecursionError):
            record = None
        if isinstance(record, dict) and isinstance(record.get("text"), str) and record["text"].strip():
            expected.append(record["text"])
    assert [a.text for a in articles] == expected
    assert all(re.match(r"line \d+: ", problem) for problem in problems)
    for article in articles:
        check_article(article)


@PROPERTIES
@given(bodies=st.lists(any_text(nul=False).filter(str.strip), min_size=1, max_size=3))
@example(bodies=["\u2028a"])  # minimal
def test_jsonl_written_without_ascii_escapes_is_read_back(bodies: list[str]) -> None:
    """A file written with json.dumps(ensure_ascii=False), the usual way to keep it readable.

    Found by this test: str.splitlines() also breaks at U+2028, U+2029 and U+0085, which JSON
    leaves unescaped inside strings, so a valid record was reported as "not valid JSON".
    """
    data = "".join(json.dumps({"text": body}, ensure_ascii=False) + "\n" for body in bodies).encode("utf-8")
    articles, problems = read_jsonl(data, "feed.jsonl")
    assert problems == []
    assert [a.text for a in articles] == bodies
    for article in articles:
        check_article(article)


# ---- feeds ------------------------------------------------------------------------------------


@PROPERTIES
@given(items=FEED_ITEMS, flavour=st.sampled_from(["rss", "atom"]))
@example(items=[("a", ["\ufeff"])], flavour="rss")  # minimal: a paragraph of only U+FEFF
def test_feed_entries_keep_their_paragraph_text(items: list[tuple[str, list[str]]], flavour: str) -> None:
    """read_feed: each entry's paragraphs, whitespace collapsed, slice the article text exactly.

    Found by this test: a paragraph of only U+FEFF was kept (str.split does not count it as
    space, qa.text.spans trims it), and it split into no sentence at all.
    """
    document = rss(items) if flavour == "rss" else atom(items)
    try:
        articles, problems = read_feed(document.encode("utf-8"), f"wire.{flavour}")
    except UnreadableFileError as err:
        assert str(err).startswith("no usable entry")
        articles, problems = [], [str(err)]
    kept = [(t, [q for p in ps if (q := " ".join(p.split()).strip(TRIM))]) for t, ps in items]
    expected = [paragraphs for _, paragraphs in kept if paragraphs]
    assert [[p.text_of(a) for p in a.paragraphs] for a in articles] == expected
    assert len(problems) == len(kept) - len(expected) or (not articles and problems)
    for article in articles:
        check_article(article)


@PROPERTIES
@given(
    payload=st.one_of(texts().map(lambda t: t.encode("utf-8")), st.binary(max_size=300)),
    root=st.sampled_from(["<rss>", '<rss version="2.0"><channel><item><description>', "<feed>", "<rdf:RDF>"]),
)
def test_feed_reader_refuses_garbage_with_a_reason(payload: bytes, root: str) -> None:
    """read_feed on a feed root followed by anything: articles that hold, or UnreadableFileError."""
    try:
        articles, _ = read_feed(root.encode() + payload, "broken.rss")
    except UnreadableFileError as err:
        assert str(err)
        return
    for article in articles:
        check_article(article)


# ---- web pages --------------------------------------------------------------------------------


@st.composite
def web_pages(draw: st.DrawFn) -> bytes:
    """A saved page: an article of paragraphs, or arbitrary bytes after an <html> tag."""
    if draw(st.integers(0, 3)) == 0:
        return b"<html><body>" + draw(st.binary(max_size=400))
    title = draw(WORDS)
    filler = " ".join(draw(st.lists(WORDS, min_size=10, max_size=20)))
    paragraphs = [*draw(st.lists(any_text(nul=False), max_size=4)), filler]
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    page = f"<html><head><title>{html.escape(title)}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>"
    return page.encode("utf-8")


@settings(PROPERTIES, max_examples=20)
@given(page=web_pages())
def test_webpage_paragraphs_slice_the_extracted_text(page: bytes) -> None:
    """read_html: trafilatura's text, split into paragraphs that slice it; refusals have a reason."""
    articles = try_read(read_html, page, "saved/page.html")
    for article in articles or []:
        assert article.paragraphs
        check_article(article)


# ---- PDF ----------------------------------------------------------------------------------------

PDF_WORDS = st.from_regex(r"[A-Za-zÀ-ÖØ-öø-ÿ]{1,10}[.,;!?]?", fullmatch=True)


def make_pdf(paragraphs: Sequence[str]) -> bytes:
    """A PDF of these paragraphs in a core font (Latin-1), written by fpdf2."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    for paragraph in paragraphs:
        pdf.multi_cell(0, 6, paragraph)
        pdf.ln(4)
    return bytes(pdf.output())


@settings(PROPERTIES, max_examples=15)
@given(
    paragraphs=st.lists(st.lists(PDF_WORDS, min_size=1, max_size=40).map(" ".join), min_size=1, max_size=5)
)
def test_pdf_paragraphs_keep_every_word(paragraphs: list[str]) -> None:
    """read_pdf: the title and paragraphs hold every word written, and slice the joined text."""
    articles = try_read(read_pdf, make_pdf(paragraphs), "release.pdf")
    if articles is None:
        assert sum(len(p.split()) for p in paragraphs) < 10  # too few words to be an article
        return
    (article,) = articles
    check_article(article)
    read_back = "".join([article.title, *(p.text_of(article) for p in article.paragraphs)])
    if article.title == "Release":  # the file name: no headline line was taken from the text
        read_back = read_back.removeprefix("Release")
    assert re.sub(r"\s", "", read_back) == re.sub(r"\s", "", "".join(paragraphs))


@functools.cache
def sample_pdf() -> bytes:
    return make_pdf(["Harbour bridge reopens", "The harbour bridge reopened on Friday after two years. " * 6])


@settings(PROPERTIES, max_examples=40)
@given(
    cut=st.integers(0, 4_000),
    flips=st.lists(st.tuples(st.integers(0, 4_000), st.integers(0, 255)), max_size=4),
)
def test_damaged_pdfs_are_refused_with_a_reason(cut: int, flips: list[tuple[int, int]]) -> None:
    """read_pdf on a truncated or bit-damaged PDF: text that holds, or UnreadableFileError."""
    data = bytearray(sample_pdf())
    for position, value in flips:
        data[position % len(data)] = value
    del data[len(data) - cut % len(data) :]
    articles = try_read(read_pdf, bytes(data), "damaged.pdf")  # None: refused with UnreadableFileError
    assert articles is None or all(a.paragraphs for a in articles)
    for article in articles or []:
        check_article(article)


# ---- the file-reading entry point -------------------------------------------------------------

CONTENT: dict[str, st.SearchStrategy[bytes]] = {
    "story.txt": any_text().map(lambda t: t.encode("utf-8")),
    "story.md": markdown_documents().map(lambda t: t.encode("utf-8")),
    "feed.jsonl": st.lists(jsonl_lines(), min_size=1, max_size=4).map(
        lambda ls: "\n".join(ls).encode("utf-8")
    ),
    "wire.rss": FEED_ITEMS.map(lambda items: rss(items).encode("utf-8")),
}


# No shrinking here: the minimal inputs are the reader tests' examples; shrinking these took minutes.
@pytest.mark.parametrize("name", list(CONTENT))
@settings(PROPERTIES, max_examples=25, phases=[Phase.explicit, Phase.generate])
@given(data=st.data())
def test_read_corpus_skips_what_it_cannot_read_and_never_raises(name: str, data: st.DataObject) -> None:
    """read_corpus on one file of any content: articles whose offsets hold, or a skip reason.

    Found by this test: the ValueError/RecursionError of the two tests above escaped read_corpus
    and stopped the build; a reader failing in any other way is now a skip reason too.
    """
    content = data.draw(CONTENT[name], label="content")
    articles, reasons = corpus_of(name, content)
    assert articles or reasons
    assert all(reasons)


# Encodings a text editor offers, each with the byte-order mark it writes.
ENCODINGS = {
    "UTF-8": lambda text: text.encode("utf-8"),
    "UTF-8 with BOM": lambda text: text.encode("utf-8-sig"),
    "UTF-16 LE": lambda text: "\ufeff".encode("utf-16-le") + text.encode("utf-16-le"),
    "UTF-16 BE": lambda text: "\ufeff".encode("utf-16-be") + text.encode("utf-16-be"),
    "UTF-32 LE": lambda text: "\ufeff".encode("utf-32-le") + text.encode("utf-32-le"),
    "UTF-32 BE": lambda text: "\ufeff".encode("utf-32-be") + text.encode("utf-32-be"),
}
FILES: dict[str, Callable[[str], str]] = {
    "story.txt": lambda text: text,
    "story.md": lambda text: text,
    "feed.jsonl": lambda text: json.dumps({"text": text}) + "\n",
    "wire.rss": lambda text: rss([("Entry", [text])]),
}


def outcome(articles: list[Article]) -> list[tuple[str, list[str]]]:
    return [(a.title, [p.text_of(a) for p in a.paragraphs]) for a in articles]


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("name", list(FILES))
@settings(PROPERTIES, max_examples=10)
@given(text=xml_texts().filter(str.strip))
@example(text="a")  # minimal for every failing encoding
def test_a_file_saved_in_any_unicode_encoding_reads_the_same(encoding: str, name: str, text: str) -> None:
    """Text saved as UTF-8, UTF-8 with BOM, UTF-16 or UTF-32 with BOM reads as the same
    paragraphs, or is skipped with a reason that names its encoding (never "binary").

    Found by this test: UTF-16/32 files were skipped as "binary file"; .jsonl with a BOM as "not
    valid JSON" (the BOM stayed on the first line); .rss with any BOM as "not an RSS or Atom
    feed" (the root element was looked for in the raw bytes).
    """
    content = FILES[name](text)
    expected, expected_reasons = corpus_of(name, content.encode("utf-8"))
    articles, reasons = corpus_of(name, ENCODINGS[encoding](content))
    if not expected:
        assert not articles and reasons, "a file unreadable as UTF-8 is unreadable in any encoding"
        return
    if articles or encoding.startswith("UTF-8"):
        assert (outcome(articles), reasons) == (outcome(expected), expected_reasons)
    else:
        family = encoding.split()[0]
        assert reasons and all(family in reason for reason in reasons), reasons


@pytest.mark.parametrize("name", ["story.txt", "story.md"])
@settings(PROPERTIES, max_examples=10)
@given(before=texts(nul=False, max_pieces=5), after=texts(nul=False, max_pieces=5))
@example(before="", after="")  # minimal
def test_a_nul_byte_is_treated_the_same_wherever_it_is(name: str, before: str, after: str) -> None:
    """A NUL byte refuses the file (or is read) the same whether it sits in the first 8 KiB or later.

    Found by this test: NUL was looked for in the first 8 KiB only, so the same text was "binary
    file" near the start and read, the NUL kept in the article text, after 8 KiB of paragraphs.
    Now the share of NUL bytes decides (qa.ingest.decode.MAX_NUL_SHARE) and a stray one is a
    space.
    """
    early = f"{before}\x00{after}\n\n" + "Filler line.\n" * 700
    late = "Filler line.\n" * 700 + f"\n\n{before}\x00{after}"
    assert early.encode().index(b"\x00") < 8192 < late.encode().index(b"\x00")
    early_articles, _ = corpus_of(name, early.encode("utf-8"))
    late_articles, _ = corpus_of(name, late.encode("utf-8"))
    assert bool(early_articles) == bool(late_articles)
