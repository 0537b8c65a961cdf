"""Reader for .txt articles."""

from __future__ import annotations

import re
from pathlib import Path

from qa.ingest.article import Article, make_paragraphs
from qa.ingest.decode import decode_text
from qa.text.spans import Span, split_paragraphs

MAX_TITLE_CHARS = 120


# Words a headline keeps in lower case unless they open it.
_MINOR_WORDS = frozenset("a an and as at but by for from in into of on or the to vs via with".split())


def title_from_filename(path: str) -> str:
    """The last resort for a title: ``russia-reaffirms-bakhmut-push.txt`` -> "Russia Reaffirms Bakhmut Push"."""
    stem = Path(path).stem
    words = re.sub(r"[_\-]+", " ", stem).split()
    if not words:
        return stem
    cased = [
        w if any(c.isupper() for c in w) or (i and w in _MINOR_WORDS) else w[:1].upper() + w[1:]
        for i, w in enumerate(words)
    ]
    return " ".join(cased)


def looks_like_title(line: str) -> bool:
    """A short single line that does not read like the end of a sentence."""
    return 0 < len(line) <= MAX_TITLE_CHARS and "\n" not in line and line[-1] not in '.,;:!?"”'


def split_title(text: str, spans: list[Span], path: str) -> tuple[str, list[Span]]:
    """Use a short first line as the title when more paragraphs follow; else the file name."""
    if len(spans) > 1:
        first = text[spans[0][0] : spans[0][1]]
        if looks_like_title(first):
            return first, spans[1:]
    return title_from_filename(path), spans


def read_text(data: bytes, rel_path: str) -> list[Article]:
    text = decode_text(data)
    spans = split_paragraphs(text)
    title, spans = split_title(text, spans, rel_path)
    return [
        Article(
            id=rel_path,
            title=title,
            text=text,
            source_path=rel_path,
            paragraphs=make_paragraphs(spans),
        )
    ]
