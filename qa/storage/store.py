"""SQLite store of one index generation: articles, passages, sentences and cached vectors."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.ingest.article import Article, Paragraph
from qa.ingest.boilerplate import own_flag
from qa.storage.segments import SegmentReader, lookup_rows
from qa.storage.vectors_codec import sentence_key

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
-- qa.engines.Passage.vector_keys gives it); stored by passage, no row id of its own.
CREATE TABLE sentences (
    passage_id INTEGER NOT NULL REFERENCES passages(id),
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    PRIMARY KEY (passage_id, start)
) WITHOUT ROWID;
CREATE TABLE files (  -- what each cleanly read file held, to skip parsing it again
    source_path TEXT PRIMARY KEY,
    content_key TEXT NOT NULL
);
-- Vectors live in shared segments (qa.storage.segments). This table is empty; it is read only
-- in the generations of format 3, which kept their vectors here, so a rebuild reuses them.
CREATE TABLE vectors (
    key TEXT PRIMARY KEY,
    vector BLOB NOT NULL
);
"""

_PASSAGE_COLUMNS = """
    p.id, p.key, p.paragraph, p.start, p."end", substr(a.text, p.start + 1, p."end" - p.start),
    p.boilerplate, p.heading, p.section, p.text_hash, a.article_id, a.title, a.url, a.published,
    a.source_path, p.page, a.copy_of
"""


def passage_key(article_id: str, text_hash: str, repeat: int = 1) -> str:
    """Stable name of a passage: its article and a hash of its text (``-2`` for a repeat)."""
    key = f"{article_id}@{text_hash[:16]}"
    return key if repeat == 1 else f"{key}-{repeat}"


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


def _passage(row: Sequence[object]) -> PassageRow:
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


class StoreWriter:
    """Writes a fresh ``qa.sqlite`` for a new generation."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path)
        self.connection.executescript(SCHEMA)

    def add_article(self, article: Article, copy_of: str | None = None, minhash: bytes | None = None) -> int:
        cursor = self.connection.execute(
            "INSERT INTO articles (article_id, title, url, published, byline, source_path, text, "
            "content_hash, copy_of, minhash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
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
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def add_passage(
        self,
        key: str,
        article_row: int,
        paragraph: Paragraph,
        text_hash: str,
        section: str | None,
    ) -> int:
        cursor = self.connection.execute(
            'INSERT INTO passages (key, article_row, paragraph, start, "end", text_hash, boilerplate, '
            "heading, section, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
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
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def add_sentences(self, rows: Iterable[tuple[int, int, int]]) -> None:
        self.connection.executemany('INSERT INTO sentences (passage_id, start, "end") VALUES (?, ?, ?)', rows)

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


class Store:
    """Read-only view of a published generation's ``qa.sqlite`` and the vector segments it lists."""

    def __init__(self, path: Path, segments: Sequence[Path] = ()) -> None:
        # immutable=1: a published generation never changes, so SQLite needs no locks or journal.
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        self.connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.segments = SegmentReader(segments)

    def close(self) -> None:
        self.connection.close()
        self.segments.close()

    def check_schema(self) -> None:
        """Raise sqlite3.Error unless the tables have the columns this version reads."""
        self.connection.execute(
            'SELECT p.id, p.key, p.article_row, p.paragraph, p.start, p."end", p.text_hash, p.boilerplate, '
            "p.heading, p.section, p.page, a.copy_of, a.byline, a.article_id, a.title, a.url, a.published, a.source_path, a.text, s.start, v.key, v.vector, "
            "f.source_path, f.content_key FROM passages p, articles a, sentences s, vectors v, files f LIMIT 0"
        ).fetchall()

    def searchable_passage_ids(self) -> np.ndarray:
        """Ids of the passages in the search indexes (not boilerplate, not headings), in id order."""
        # One comma-separated text parsed in C: half the time of a Python tuple per row (a
        # tenth of a second per 300,000 passages, on every open).
        (text,) = self.connection.execute(
            "SELECT group_concat(id) FROM passages WHERE boilerplate IS NULL AND heading = 0"
        ).fetchone()
        if not text:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.fromstring(text, dtype=np.int64, sep=","))

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.connection.execute(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages p JOIN articles a ON a.row = p.article_row "
            f"WHERE p.id IN ({marks})",
            list(map(int, ids)),
        ).fetchall()
        return {row[0]: _passage(row) for row in rows}

    def passage_by_key(self, key: str) -> PassageRow | None:
        row = self.connection.execute(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages p JOIN articles a ON a.row = p.article_row "
            "WHERE p.key = ?",
            (key,),
        ).fetchone()
        return None if row is None else _passage(row)

    def neighbours(self, ids: Sequence[int]) -> dict[int, int]:
        """For each passage, the searchable passage right after it in its article, if any."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.connection.execute(
            "SELECT p.id, (SELECT n.id FROM passages n WHERE n.article_row = p.article_row "
            "AND n.paragraph > p.paragraph AND n.boilerplate IS NULL AND n.heading = 0 "
            f"ORDER BY n.paragraph LIMIT 1) FROM passages p WHERE p.id IN ({marks})",
            list(map(int, ids)),
        ).fetchall()
        return {pid: nid for pid, nid in rows if nid is not None}

    def copies(self, text_hashes: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
        """Searchable passages with each text hash: (passage id, article id), in id order."""
        wanted = list(dict.fromkeys(text_hashes))
        found: dict[str, list[tuple[int, str]]] = {h: [] for h in wanted}
        if not wanted:
            return found
        marks = ",".join("?" * len(wanted))
        for text_hash, pid, article_id in self.connection.execute(
            "SELECT p.text_hash, p.id, a.article_id FROM passages p JOIN articles a ON a.row = p.article_row "
            f"WHERE p.text_hash IN ({marks}) AND p.boilerplate IS NULL AND p.heading = 0 ORDER BY p.id",
            wanted,
        ):
            found[text_hash].append((pid, article_id))
        return found

    def publication_rows(self) -> list[tuple[int, str | None, str, str, str | None]]:
        """(passage id, published, article id, source path, url) of every searchable passage."""
        return self.connection.execute(
            "SELECT p.id, a.published, a.article_id, a.source_path, a.url FROM passages p "
            "JOIN articles a ON a.row = p.article_row WHERE p.boilerplate IS NULL AND p.heading = 0"
        ).fetchall()

    def publication_dates(self) -> list[str]:
        """Every distinct publication date of the articles (ISO 8601 text)."""
        rows = self.connection.execute("SELECT DISTINCT published FROM articles WHERE published IS NOT NULL")
        return [r[0] for r in rows]

    def article_list(self) -> list[tuple[str, str, str | None, str | None, int]]:
        """(article id, title, url, published, paragraphs) of every article, in index order."""
        return self.connection.execute(
            "SELECT a.article_id, a.title, a.url, a.published, COUNT(p.article_row) FROM articles a "
            "LEFT JOIN passages p ON p.article_row = a.row GROUP BY a.row ORDER BY a.row"
        ).fetchall()

    def article(self, article_id: str) -> tuple[ArticleRow, list[PassageRow]] | None:
        """An article's record and all its paragraphs (boilerplate and headings included)."""
        row = self.connection.execute(
            "SELECT row, article_id, title, url, published, byline, source_path, text FROM articles "
            "WHERE article_id = ?",
            (article_id,),
        ).fetchone()
        if row is None:
            return None
        rows = self.connection.execute(
            f"SELECT {_PASSAGE_COLUMNS} FROM passages p JOIN articles a ON a.row = p.article_row "
            "WHERE p.article_row = ? ORDER BY p.paragraph",
            (row[0],),
        ).fetchall()
        return ArticleRow(*row[1:]), [_passage(r) for r in rows]

    def sentences(self, passage_ids: Sequence[int]) -> dict[int, list[SentenceRow]]:
        result: dict[int, list[SentenceRow]] = {int(i): [] for i in passage_ids}
        if not passage_ids:
            return result
        marks = ",".join("?" * len(passage_ids))
        for pid, start, end, text_hash, offset in self.connection.execute(
            f'SELECT s.passage_id, s.start, s."end", p.text_hash, p.start FROM sentences s '
            f"JOIN passages p ON p.id = s.passage_id WHERE s.passage_id IN ({marks}) "
            "ORDER BY s.passage_id, s.start",
            list(map(int, passage_ids)),
        ):
            result[pid].append(
                SentenceRow(pid, start, end, sentence_key(text_hash, start - offset, end - offset))
            )
        return result

    def vectors(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors of ``keys`` that exist (paragraphs' and sentences')."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, np.ndarray] = {}
        if self.legacy_vectors:  # format 3: the same vectors table as a format-4 segment's
            lookup_rows(self.connection, wanted, found)
        self.segments.lookup(wanted, found)
        return found

    @functools.cached_property
    def legacy_vectors(self) -> bool:
        """Whether this generation keeps vectors in its own file (format 3, before segments)."""
        return self.connection.execute("SELECT 1 FROM vectors LIMIT 1").fetchone() is not None

    def file_keys(self) -> dict[str, str]:
        return dict(self.connection.execute("SELECT source_path, content_key FROM files"))

    def source_paths(self) -> set[str]:
        """Every file (relative path) the generation holds articles from."""
        return {row[0] for row in self.connection.execute("SELECT DISTINCT source_path FROM articles")}

    def undated_count(self) -> int:
        return int(
            self.connection.execute("SELECT COUNT(*) FROM articles WHERE published IS NULL").fetchone()[0]
        )

    def articles_from(self, source_path: str) -> list[Article]:
        """The articles read from one file, as the reader returned them, each paragraph with
        its own boilerplate flag (rules 1-2; the corpus-wide rule 3 is worked out again)."""
        articles = []
        for row, article_id, title, url, published, byline, text in self.connection.execute(
            "SELECT row, article_id, title, url, published, byline, text FROM articles "
            "WHERE source_path = ? ORDER BY row",
            (source_path,),
        ).fetchall():
            stored = self.connection.execute(
                'SELECT start, "end", boilerplate, page FROM passages WHERE article_row = ? ORDER BY paragraph',
                (row,),
            ).fetchall()
            paragraphs = tuple(
                Paragraph(number=number, start=start, end=end, boilerplate=own_flag(reason), page=page)
                for number, (start, end, reason, page) in enumerate(stored, start=1)
            )
            articles.append(
                Article(
                    id=article_id,
                    title=title,
                    text=text,
                    source_path=source_path,
                    url=url,
                    published=published,
                    byline=byline,
                    paragraphs=paragraphs,
                )
            )
        return articles

    def minhash_signatures(self) -> dict[str, bytes]:
        """MinHash signatures by article content hash (none from generations before format 4)."""
        try:
            rows = self.connection.execute(
                "SELECT content_hash, minhash FROM articles WHERE minhash IS NOT NULL"
            ).fetchall()
        except sqlite3.OperationalError:  # a format-3 generation: no such column
            return {}
        return {h: bytes(b) for h, b in rows}

    def syndicated_count(self) -> int:
        """How many articles are syndicated copies of another."""
        return int(
            self.connection.execute("SELECT COUNT(*) FROM articles WHERE copy_of IS NOT NULL").fetchone()[0]
        )

    def article_hashes(self) -> dict[str, str]:
        return dict(self.connection.execute("SELECT article_id, content_hash FROM articles"))
