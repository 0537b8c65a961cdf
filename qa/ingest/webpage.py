"""Reader for saved web pages (.html, .htm): main text and metadata through trafilatura."""

from __future__ import annotations

import logging
from typing import Any

from qa.ingest.article import Article, make_paragraphs
from qa.ingest.dates import published_or_warn
from qa.ingest.decode import MAX_NUL_SHARE, WIDE_BOMS, decode_text
from qa.ingest.errors import UnreadableFileError
from qa.ingest.plaintext import title_from_filename
from qa.text.spans import split_paragraphs

logger = logging.getLogger(__name__)

MIN_WORDS = 10  # less than this is a menu or an error page, not an article


def read_html(data: bytes, rel_path: str) -> list[Article]:
    import trafilatura  # heavy import; only when there is HTML to read

    page: bytes | str = data
    if data.startswith(WIDE_BOMS):  # UTF-16/32: decode here, trafilatura's sniffing misses it
        page = decode_text(data)
    elif data.count(b"\x00") > MAX_NUL_SHARE * len(data):
        raise UnreadableFileError("binary file (contains NUL bytes), not HTML")
    elif b"\x00" in data:  # a stray NUL would end the text for lxml: make it a space
        page = data.replace(b"\x00", b" ")
    # trafilatura drops scripts, styles, navigation, footers and link lists; the text it keeps
    # has one paragraph per line.
    document: Any = trafilatura.bare_extraction(
        page,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        deduplicate=False,
        # Dates from the page's metadata and markup only: the extensive search takes a
        # "(c) 2025" footer for a publication date of 2025-01-01.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if document is None or len((document.text or "").split()) < MIN_WORDS:
        raise UnreadableFileError("no article text found in the page")
    text: str = document.text
    spans = split_paragraphs(text)
    title = (document.title or "").strip() or title_from_filename(rel_path)
    if spans and text[spans[0][0] : spans[0][1]].strip() == title:
        spans = spans[1:]  # the page's own headline repeated as the first line
    if not spans:
        raise UnreadableFileError("no article text found in the page")
    return [
        Article(
            id=rel_path,
            title=title,
            text=text,
            source_path=rel_path,
            url=document.url or None,
            published=published_or_warn(document.date, rel_path),
            byline=document.author or None,
            paragraphs=make_paragraphs(spans),
        )
    ]
