"""Writing a part's ``qa.sqlite``: articles, passages, sentence spans, deletions, files read.

The schema is here; reading a generation's parts back is :mod:`qa.storage.store`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from qa.ingest.article import Article, Paragraph

SCHEMA = """
CREATE TABLE articles (
    row INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    url TEXT,
    published TEXT,
    byline TEXT,
    source_path TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    copy_of TEXT,  -- a syndicated copy: the article id of its group's original (qa.ingest.syndication)
    minhash BLOB  -- its MinHash signature (empty: too short to compare), reused by the next build
);
-- A rebuild looks up each reused file's articles: without this, one scan per file (quadratic).
CREATE INDEX articles_by_source ON articles(source_path);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,  -- this generation's row; search indexes use it, results do not
    key TEXT NOT NULL UNIQUE,  -- stable across rebuilds: article id + hash of the text
    article_row INTEGER NOT NULL REFERENCES articles(row),
    paragraph INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text_hash TEXT NOT NULL,
    boilerplate TEXT,
    heading INTEGER NOT NULL,
    section TEXT,
    page INTEGER  -- the page it starts on, for paged sources (PDF)
);
CREATE INDEX passages_by_article ON passages(article_row, paragraph);
CREATE INDEX passages_by_text ON passages(text_hash);
-- A sentence's vector is its passage's text_hash plus its span within the passage (the key
-- qa.build.engines.Passage.vector_keys gives it); stored by passage, no row id of its own.
CREATE TABLE sentences (
    passage_id INTEGER NOT NULL REFERENCES passages(id),
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    PRIMARY KEY (passage_id, start)
) WITHOUT ROWID;
-- Articles of earlier parts that this generation no longer has (changed or removed), by row.
CREATE TABLE deleted_articles (row INTEGER PRIMARY KEY);
CREATE TABLE files (  -- what each cleanly read file held, to skip parsing it again
    source_path TEXT PRIMARY KEY,
    content_key TEXT NOT NULL
);
-- Vectors live in shared segments (qa.storage.vectors.segments). This table is empty; it is read only
-- in the generations of format 3, which kept their vectors here, so a rebuild reuses them.
CREATE TABLE vectors (
    key TEXT PRIMARY KEY,
    vector BLOB NOT NULL
);
"""


def passage_key(article_id: str, text_hash: str, repeat: int = 1) -> str:
    """Stable name of a passage: its article and a hash of its text (``-2`` for a repeat)."""
    key = f"{article_id}@{text_hash[:16]}"
    return key if repeat == 1 else f"{key}-{repeat}"


class StoreWriter:
    """Writes a fresh ``qa.sqlite`` for a new generation."""

    def __init__(self, path: Path, first_row: int = 1, first_passage: int = 1) -> None:
        """``first_row``/``first_passage``: the part's first article row and passage id, above
        every id of the parts it joins."""
        self.connection = sqlite3.connect(path)
        self.connection.executescript(SCHEMA)
        self._next_row, self._next_passage = first_row, first_passage

    def add_article(self, article: Article, copy_of: str | None = None, minhash: bytes | None = None) -> int:
        row = self._next_row
        self._next_row += 1
        self.connection.execute(
            "INSERT INTO articles (row, article_id, title, url, published, byline, source_path, text, "
            "content_hash, copy_of, minhash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row,
                article.id,
                article.title,
                article.url,
                article.published,
                article.byline,
                article.source_path,
                article.text,
                article.content_hash,
                copy_of,
                minhash,
            ),
        )
        return row

    def add_passage(
        self,
        key: str,
        article_row: int,
        paragraph: Paragraph,
        text_hash: str,
        section: str | None,
    ) -> int:
        pid = self._next_passage
        self._next_passage += 1
        self.connection.execute(
            'INSERT INTO passages (id, key, article_row, paragraph, start, "end", text_hash, boilerplate, '
            "heading, section, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pid,
                key,
                article_row,
                paragraph.number,
                paragraph.start,
                paragraph.end,
                text_hash,
                paragraph.boilerplate,
                int(paragraph.heading),
                section,
                paragraph.page,
            ),
        )
        return pid

    def add_sentences(self, rows: Iterable[tuple[int, int, int]]) -> None:
        self.connection.executemany('INSERT INTO sentences (passage_id, start, "end") VALUES (?, ?, ?)', rows)

    def add_deleted(self, rows: Iterable[int]) -> None:
        """Article rows of earlier parts this generation no longer has."""
        self.connection.executemany("INSERT INTO deleted_articles (row) VALUES (?)", ((r,) for r in rows))

    def add_files(self, files: dict[str, str]) -> None:
        self.connection.executemany(
            "INSERT INTO files (source_path, content_key) VALUES (?, ?)", files.items()
        )

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, error: type[BaseException] | None, *rest: object) -> None:
        if error is None:
            self.connection.commit()
        self.connection.close()
