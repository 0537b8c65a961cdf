"""News as it arrives: PDF and feed files, and publication dates that are read, never invented."""

from __future__ import annotations

import datetime as dt
import html
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import QA, build_index
from qa.ingest import read_corpus
from qa.ingest.dates import parse_published
from qa.ingest.errors import UnreadableFileError
from qa.ingest.feed import html_paragraphs, read_feed
from qa.ingest.pdf import read_pdf
from qa.ingest.webpage import read_html
from qa.web.render import citation_card
from tests.conftest import FakeEncoder

# ---- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2023-03-07", "2023-03-07"),
        ("2023-03-07T09:30:00Z", "2023-03-07T09:30:00+00:00"),
        ("2023-03-07T09:30:00+01:00", "2023-03-07T09:30:00+01:00"),
        ("2023-03-07T09:30:00", "2023-03-07T09:30:00"),  # no zone given: none invented
        ("Tue, 07 Mar 2023 09:30:00 GMT", "2023-03-07T09:30:00+00:00"),
        ("Tue, 07 Mar 2023 09:30:00 -0500", "2023-03-07T09:30:00-05:00"),
        ("D:20230307093000+01'00'", "2023-03-07T09:30:00+01:00"),
        ("D:20230307", "2023-03-07"),
        ("7 March 2023", "2023-03-07"),
        ("March 7, 2023 9:30 AM", "2023-03-07T09:30:00"),
        (dt.date(2023, 3, 7), "2023-03-07"),  # YAML front matter gives date objects
        (dt.datetime(2023, 3, 7, 9, 30, tzinfo=dt.UTC), "2023-03-07T09:30:00+00:00"),
        (time.struct_time((2023, 3, 7, 8, 30, 0, 1, 66, 0)), "2023-03-07T08:30:00+00:00"),  # feedparser
        # Not a day: unknown, never a guess.
        ("2025", None),
        ("© 2025", None),
        ("March 2023", None),
        ("Mar 7", None),
        ("yesterday", None),
        ("n/a", None),
        ("2023-13-45", None),
        ("D:2023", None),
        ("1066-10-14", None),  # out of range for news
        ("", None),
        (None, None),
        (20230307, None),
    ],
)
def test_publication_dates_become_iso_8601_or_stay_unknown(given: object, expected: str | None) -> None:
    assert parse_published(given) == expected


PAGE = """<html><head><title>Harbour bridge reopens</title>{meta}</head><body><article>
<h1>Harbour bridge reopens</h1>
<p>The harbour bridge reopened on Friday after two years of repairs costing 40 million euros, the city said.</p>
<p>Engineers replaced the steel cables and repainted the towers in the original grey colour scheme.</p>
</article><footer>&copy; 2025 Example News. All rights reserved.</footer></body></html>"""


def test_a_copyright_footer_is_not_a_publication_date() -> None:
    (article,) = read_html(PAGE.format(meta="").encode(), "bridge.html")
    assert article.published is None  # trafilatura's default search said 2025-01-01
    meta = '<meta property="article:published_time" content="2023-03-07T09:30:00+01:00">'
    (dated,) = read_html(PAGE.format(meta=meta).encode(), "bridge.html")
    assert dated.published == "2023-03-07"


def test_front_matter_dates_are_normalised_and_bad_ones_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "md"
    folder.mkdir()
    body = "\n\nThe ferry now runs hourly between the two islands, the operator said.\n"
    (folder / "a.md").write_text("---\ntitle: Ferry\ndate: 2023-03-07\n---" + body, encoding="utf-8")
    (folder / "b.md").write_text("---\ntitle: Ferry 2\npublished: last Tuesday\n---" + body, encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        corpus = read_corpus(folder)
    dates = {a.id: a.published for a in corpus.articles}
    assert dates == {"a.md": "2023-03-07", "b.md": None}
    assert "cannot read the date 'last Tuesday'" in caplog.text


# ---- PDF -----------------------------------------------------------------------------------------

BRIDGE = [
    "The harbour bridge reopened on Friday after two years of repairs costing 40 million euros, the city's "
    "press office said in a statement released on Tuesday morning.",
    "Engineers replaced the steel cables and repainted the towers in the original grey. The work was finished "
    "three weeks ahead of schedule despite a wet winter that halted painting for a month.",
    "Mayor Anna Berg thanked residents for their patience.",
]
SPEED = (
    "Traffic on the bridge will be limited to 30 km/h until the end of April while sensors are calibrated "
    "across all lanes of the structure by the contractor."
)


def make_pdf(path: Path, *, title: str | None = "Harbour bridge reopens", text: bool = True) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_author("City Press Office")
    pdf.set_creation_date(dt.datetime(2023, 3, 7, 9, 30, tzinfo=dt.UTC))
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    if text:
        for paragraph in BRIDGE:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(3)
        pdf.add_page()
        pdf.multi_cell(0, 6, SPEED)
    else:  # a "scan": a picture of a page, no text layer
        pdf.rect(20, 20, 100, 150, style="F")
    pdf.output(str(path))
    return path


def test_a_pdf_becomes_paragraphs_with_their_pages_and_its_metadata(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "release.pdf")
    (article,) = read_pdf(path.read_bytes(), "release.pdf")
    assert (article.title, article.byline, article.published) == (
        "Harbour bridge reopens",
        "City Press Office",
        "2023-03-07T09:30:00+00:00",
    )
    paragraphs = [(article.text[p.start : p.end], p.page) for p in article.paragraphs]
    assert paragraphs == [(BRIDGE[0], 1), (BRIDGE[1], 1), (BRIDGE[2], 1), (SPEED, 2)]


def test_a_pdf_without_a_title_takes_its_headline_line(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Harbour Bridge Reopens")
    pdf.ln(4)
    pdf.multi_cell(0, 6, BRIDGE[0])
    path = tmp_path / "untitled.pdf"
    pdf.output(str(path))
    (article,) = read_pdf(path.read_bytes(), "untitled.pdf")
    assert article.title == "Harbour Bridge Reopens"
    assert [article.text[p.start : p.end] for p in article.paragraphs] == [BRIDGE[0]]
    assert article.published is None or article.published.startswith("20")  # fpdf2 stamps a creation date


def test_unreadable_pdfs_are_skipped_with_the_reason(tmp_path: Path) -> None:
    scan = make_pdf(tmp_path / "scan.pdf", text=False)
    with pytest.raises(UnreadableFileError, match=r"no text layer.*OCR"):
        read_pdf(scan.read_bytes(), "scan.pdf")
    with pytest.raises(UnreadableFileError, match="not a readable PDF"):
        read_pdf(b"%PDF-1.4\nthis is not really a pdf", "broken.pdf")
    from fpdf import FPDF

    locked = FPDF()
    locked.set_encryption(owner_password="owner", user_password="secret")
    locked.set_font("Helvetica", size=11)
    locked.add_page()
    locked.multi_cell(0, 6, BRIDGE[0])
    locked.output(str(tmp_path / "locked.pdf"))
    with pytest.raises(UnreadableFileError, match="encrypted PDF"):
        read_pdf((tmp_path / "locked.pdf").read_bytes(), "locked.pdf")


# ---- feeds ---------------------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Harbour Gazette</title><link>https://gazette.example/</link>
<item><title>Bridge reopens</title><link>https://gazette.example/bridge</link><guid>bridge-1</guid>
<pubDate>Tue, 07 Mar 2023 09:30:00 +0100</pubDate><author>desk@gazette.example (City desk)</author>
<description><![CDATA[<p>The harbour bridge reopened on <b>Friday</b> after two years of repairs.</p>
<p>Engineers replaced the cables.<br/>And the towers.</p><script>alert(1)</script>]]></description></item>
<item><title>Ferry timetable</title><link>https://gazette.example/ferry</link>
<description>The ferry now runs hourly between the islands.</description></item>
<item><title>Empty</title><description></description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title><id>urn:wire</id>
<updated>2023-03-08T00:00:00Z</updated>
<entry><title>Storm closes port</title><id>urn:wire:storm</id><link href="https://wire.example/storm"/>
<updated>2023-03-08T06:00:00Z</updated><author><name>Ana Ruiz</name></author>
<content type="html">&lt;p&gt;A storm closed the port on Wednesday.&lt;/p&gt;&lt;p&gt;Gusts reached 120 km/h.&lt;/p&gt;</content>
</entry></feed>"""


def test_an_rss_feed_gives_one_dated_article_per_entry() -> None:
    articles, problems = read_feed(RSS.encode(), "news/gazette.rss")
    bridge, ferry = articles
    assert bridge.id == "news/gazette.rss#bridge-1"
    assert (bridge.title, bridge.url, bridge.published) == (
        "Bridge reopens",
        "https://gazette.example/bridge",
        "2023-03-07T09:30:00+01:00",  # the entry's own zone kept
    )
    assert [bridge.text[p.start : p.end] for p in bridge.paragraphs] == [
        "The harbour bridge reopened on Friday after two years of repairs.",
        "Engineers replaced the cables. And the towers.",
    ]
    assert "alert" not in bridge.text
    assert ferry.published is None  # no date in the entry: unknown
    assert problems == ["entry 3 (Empty): no text in its content or summary"]


def test_an_atom_feed_and_xml_that_is_not_a_feed(tmp_path: Path) -> None:
    ((storm,), problems) = read_feed(ATOM.encode(), "wire.atom")
    assert (storm.title, storm.byline, storm.published, problems) == (
        "Storm closes port",
        "Ana Ruiz",
        "2023-03-08T06:00:00+00:00",
        [],
    )
    assert [storm.text[p.start : p.end] for p in storm.paragraphs] == [
        "A storm closed the port on Wednesday.",
        "Gusts reached 120 km/h.",
    ]
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "wire.xml").write_text(ATOM, encoding="utf-8")
    (folder / "sitemap.xml").write_text('<?xml version="1.0"?><urlset><url/></urlset>', encoding="utf-8")
    corpus = read_corpus(folder)
    assert [a.title for a in corpus.articles] == ["Storm closes port"]
    assert [(s.path, s.reason) for s in corpus.skipped] == [
        ("sitemap.xml", "not an RSS or Atom feed (the root element is not rss, feed or rdf:RDF)")
    ]


def test_entry_html_becomes_paragraphs() -> None:
    assert html_paragraphs("<div>Intro line<ul><li>One</li><li>Two</li></ul>Tail text</div>") == [
        "Intro line",
        "One",
        "Two",
        "Tail text",
    ]
    assert html_paragraphs("First para.\n\nSecond para.") == ["First para.", "Second para."]
    assert html_paragraphs("<p>Kept</p><style>p{}</style>") == ["Kept"]


# ---- end to end ----------------------------------------------------------------------------------


def test_pdf_and_feed_articles_are_searched_and_cited_with_page_and_date(
    tmp_path: Path, fake_encoder: FakeEncoder
) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    make_pdf(folder / "release.pdf")
    (folder / "gazette.rss").write_text(RSS, encoding="utf-8")
    report = build_index(folder, "idx", encoder=fake_encoder, show_progress=False)
    assert report.articles == 3 and report.undated == 1  # the ferry entry has no date
    assert "1 undated" in report.summary()
    assert [s.reason for s in report.skipped] == ["entry 3 (Empty): no text in its content or summary"]
    with QA.open("idx", encoder=fake_encoder) as qa:
        speed = qa.ask("What is the speed limit on the bridge until April?").citations[0]
        assert (speed.article_id, speed.page, speed.published) == (
            "release.pdf",
            2,
            "2023-03-07T09:30:00+00:00",
        )
        assert qa.search("speed limit bridge sensors calibrated", 1)[0].page == 2
        card = html.unescape(citation_card(speed, turn=1, cited=True))
        assert "paragraph 4" in card and "p. 2" in card and "2023-03-07" in card
        assert qa.article("release.pdf").paragraphs[-1].page == 2
        bridge = qa.ask("When did the harbour bridge reopen after repairs?").citations
        assert {c.article_id for c in bridge} >= {"gazette.rss#bridge-1"}


@pytest.mark.slow
def test_cli_cites_the_pdf_page(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    make_pdf(folder / "release.pdf")
    for command in (
        ["build", str(folder), "--quiet"],
        ["ask", "What is the speed limit on the bridge until April?"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "qa", *command, "--index", "idx"],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert "paragraph 4, p. 2 (release.pdf)" in done.stdout
