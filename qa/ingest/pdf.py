"""Reader for .pdf files with a text layer (press releases, reports, e-paper pages): pypdf.

A PDF has lines, not paragraphs. A paragraph starts after more vertical space than separates
the lines of a paragraph (or a jump to another column), and ends at a line that stops well
short of a full line (the last line of a paragraph, or a headline or subheading line). A word broken with a hyphen across lines is joined. Every paragraph keeps the page
it starts on, so a citation can say "p. 3". A PDF without extractable text (a scan) is skipped
with that reason. Title, author and creation date come from the document information when it
has them.
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from pathlib import PurePosixPath
from typing import Any

from qa.ingest.article import Article, make_paragraphs
from qa.ingest.dates import published_or_warn
from qa.ingest.errors import UnreadableFileError
from qa.ingest.plaintext import MAX_TITLE_CHARS, title_from_filename

logger = logging.getLogger(__name__)

MIN_WORDS = 10  # fewer extractable words than this: a scan or an empty shell, not an article
# More space than this many times the usual line spacing before a line starts a paragraph.
GAP = 1.3
# A line under this share of a full line (the 90th percentile of line lengths) ends a paragraph:
# ragged-right lines inside a paragraph rarely fall that short.
SHORT_LINE = 0.85
_SENTENCE_END = re.compile(r"[.!?:;…][\"'”’)\]]*$")
_PAGE_NUMBER = re.compile(r"(?i)^(page\s*)?\d{1,4}(\s*(/|of)\s*\d{1,4})?$")
# Titles that authoring tools write instead of the document's own.
_TOOL_TITLE = re.compile(r"(?i)^(microsoft (word|powerpoint)\s*-|untitled|document\d*$)|\.(docx?|pdf|odt)$")


def _line_positions(page: Any) -> list[float]:
    """The height on the page of each text line, in drawing order (lines grouped by height)."""
    heights: list[float] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if not text.strip():
            return
        y = float(tm[4]) * float(cm[1]) + float(tm[5]) * float(cm[3]) + float(cm[5])
        if not heights or abs(y - heights[-1]) > 1.0:
            heights.append(y)

    page.extract_text(visitor_text=visit)
    return heights


def _page_lines(page: Any) -> list[tuple[str, bool]]:
    """The page's lines, each with whether a paragraph gap (more space than between the lines
    of a paragraph, or a jump to another column) comes before it. Page numbers dropped."""
    text = page.extract_text() or ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    heights = _line_positions(page)
    if not lines or len(heights) != len(lines):  # which height is which line is unknown: no gaps
        gaps = [False] * len(lines)
    else:
        steps = [above - below for above, below in itertools.pairwise(heights)]
        usual = sorted(step for step in steps if step > 0)
        spacing = usual[len(usual) // 4] if usual else 0.0  # a low quantile: most steps may be gaps
        gaps = [False] + [step <= 0 or (spacing > 0 and step > GAP * spacing) for step in steps]
    return [(line, gap) for line, gap in zip(lines, gaps, strict=True) if not _PAGE_NUMBER.match(line)]


def _paragraphs(pages: list[list[tuple[str, bool]]]) -> list[tuple[str, int]]:
    """(paragraph text, page it starts on), lines joined, hyphenated words rejoined."""
    widths = sorted(len(line) for lines in pages for line, _ in lines)
    usual = widths[int(0.9 * (len(widths) - 1))] if widths else 0
    out: list[tuple[str, int]] = []
    current: list[str] = []
    start_page = 1

    def close() -> None:
        if current:
            out.append((" ".join(current), start_page))
            current.clear()

    for number, lines in enumerate(pages, start=1):
        for line, gap_before in lines:
            if gap_before:
                close()
            if not current:
                start_page = number
            if current and current[-1].endswith("-") and line[:1].islower():
                current[-1] = current[-1][:-1] + line  # "recon-" + "struction"
            else:
                current.append(line)
            if len(line) < SHORT_LINE * usual:
                close()  # the last line of a paragraph, or a headline or subheading line
    close()
    return out


def _info(reader: Any) -> dict[str, Any]:
    try:
        info = reader.metadata
    except Exception:  # a damaged information dictionary: the text may still be fine
        return {}
    if info is None:
        return {}
    values = {
        "title": info.get("/Title"),
        "author": info.get("/Author"),
        "created": info.get("/CreationDate"),
    }
    return {k: str(v).strip() for k, v in values.items() if v is not None and str(v).strip()}


def read_pdf(data: bytes, rel_path: str) -> list[Article]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFileError("encrypted PDF: save an unencrypted copy to index it")
        pages = [_page_lines(page) for page in reader.pages]
    except UnreadableFileError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        raise UnreadableFileError(f"not a readable PDF ({type(err).__name__}: {err})") from None
    if sum(len(line.split()) for lines in pages for line, _ in lines) < MIN_WORDS:
        raise UnreadableFileError(
            "no text layer in the PDF (a scan?): run OCR first, e.g. ocrmypdf IN.pdf OUT.pdf"
        )
    info = _info(reader)
    paragraphs = _paragraphs(pages)
    title = info.get("title", "")
    if not title or _TOOL_TITLE.search(title) or len(title) > MAX_TITLE_CHARS:
        first = paragraphs[0][0] if paragraphs else ""
        if len(paragraphs) > 1 and len(first) <= MAX_TITLE_CHARS and not _SENTENCE_END.search(first):
            title, paragraphs = first, paragraphs[1:]  # a headline line opens the document
        else:
            title = title_from_filename(PurePosixPath(rel_path).name)
    elif paragraphs and paragraphs[0][0] == title:
        paragraphs = paragraphs[1:]
    if not paragraphs:
        raise UnreadableFileError("no article text found in the PDF")
    text_parts: list[str] = []
    spans: list[tuple[int, int]] = []
    position = 0
    for paragraph, _ in paragraphs:
        spans.append((position, position + len(paragraph)))
        text_parts.append(paragraph)
        position += len(paragraph) + 2
    return [
        Article(
            id=rel_path,
            title=title,
            text="\n\n".join(text_parts),
            source_path=rel_path,
            published=published_or_warn(info.get("created"), rel_path),
            byline=info.get("author"),
            paragraphs=make_paragraphs(spans, [page for _, page in paragraphs]),
        )
    ]
