"""The rows the store returns (passages, articles, sentences, what a build needs of a part) and
the SQL columns a passage row is read from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

PASSAGE_COLUMNS = """
    p.id, p.key, p.paragraph, p.start, p."end", substr(a.text, p.start + 1, p."end" - p.start),
    p.boilerplate, p.heading, p.section, p.text_hash, a.article_id, a.title, a.url, a.published,
    a.source_path, p.page, a.copy_of
"""


@dataclass(frozen=True)
class PassageRow:
    id: int
    key: str
    paragraph: int
    start: int
    end: int
    text: str
    boilerplate: str | None
    heading: bool
    section: str | None
    text_hash: str
    article_id: str
    title: str
    url: str | None
    published: str | None
    source_path: str
    page: int | None = None
    copy_of: str | None = None  # the original of a syndicated copy

    @property
    def story(self) -> str:
        """The story this passage tells: the original of its article's syndication group."""
        return self.copy_of or self.article_id


def passage_row(row: Sequence[object]) -> PassageRow:
    values = list(row)
    values[7] = bool(values[7])  # heading: stored as 0/1
    return PassageRow(*values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ArticleRow:
    article_id: str
    title: str
    url: str | None
    published: str | None
    byline: str | None
    source_path: str
    text: str


@dataclass(frozen=True)
class SentenceRow:
    passage_id: int
    start: int
    end: int
    vector_key: str


class PartRows(NamedTuple):
    """What a build needs to know of an earlier part (Store.part_articles)."""

    articles: np.ndarray  # its article rows, deleted ones included
    last_passage: int  # its highest passage id
    searchable: int  # rows in its search files
