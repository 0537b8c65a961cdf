"""What every reader produces: an article with paragraph spans into its text."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of an article: ``article.text[start:end]``, 1-based ``number``."""

    number: int
    start: int
    end: int
    boilerplate: str | None = None  # why it is not article text, or None
    heading: bool = False  # a subheading: context for the paragraphs under it, never cited alone
    page: int | None = None  # the 1-based page it starts on, for paged sources (PDF)

    def text_of(self, article: Article) -> str:
        return article.text[self.start : self.end]


@dataclass(frozen=True)
class Article:
    """One article as read from a file.

    ``text`` is what offsets point into: the decoded file for .txt and .md, the extracted
    main text for HTML, the ``text`` field for JSON lines.
    """

    id: str
    title: str
    text: str
    source_path: str
    url: str | None = None
    published: str | None = None
    byline: str | None = None
    paragraphs: tuple[Paragraph, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for p in self.paragraphs:
            if not 0 <= p.start < p.end <= len(self.text):
                raise ValueError(f"paragraph {p.number} of {self.id!r} has bad offsets")

    @cached_property  # the article is frozen; a build asks for it several times
    def content_hash(self) -> str:
        """Changes whenever anything a citation shows changes."""
        h = hashlib.sha256()
        for part in (self.title, self.url, self.published, self.byline, self.source_path, self.text):
            h.update((part or "").encode("utf-8"))
            h.update(b"\x00")
        for p in self.paragraphs:
            h.update(f"{p.start}:{p.end}:{p.boilerplate or ''}:{int(p.heading)}:{p.page or ''};".encode())
        return h.hexdigest()

    def with_paragraphs(self, paragraphs: tuple[Paragraph, ...]) -> Article:
        return replace(self, paragraphs=paragraphs)


def make_paragraphs(
    spans: list[tuple[int, int]], pages: list[int | None] | None = None
) -> tuple[Paragraph, ...]:
    """Numbered paragraphs of ``spans``; ``pages``: the page each starts on (paged sources)."""
    pages = pages if pages is not None else [None] * len(spans)
    return tuple(
        Paragraph(number=i, start=s, end=e, page=page)
        for i, ((s, e), page) in enumerate(zip(spans, pages, strict=True), start=1)
    )


def text_hash(text: str) -> str:
    """Content hash used as the key of cached vectors."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
