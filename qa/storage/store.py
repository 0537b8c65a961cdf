"""SQLite store of one index generation: articles, passages and sentences, over its parts.

A generation is one or more **parts** (docs/DESIGN-STORAGE.md): its own ``qa.sqlite`` holds the
articles this build wrote, and it reads the articles of earlier builds from their parts'
``qa.sqlite`` files, attached read-only. Ids (passage ids, article rows) are unique across the
parts, each part's above every earlier one's. An article lives whole in one part; an earlier
part's article that changed or went away is listed in the newest part's ``deleted_articles``
and left out of every answer here.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.ingest.article import Article, Paragraph
from qa.ingest.boilerplate import own_flag
from qa.storage.rows import PASSAGE_COLUMNS, ArticleRow, PartRows, PassageRow, SentenceRow, passage_row
from qa.storage.vectors.codec import sentence_key
from qa.storage.vectors.segments import SegmentReader, lookup_rows

_LIVE = "a.row NOT IN (SELECT row FROM temp.deleted)"  # an article this generation still has


class Store:
    """Read-only view of a published generation: its parts' ``qa.sqlite`` files and the vector
    segments it lists.

    ``path`` is the generation's own part (the newest); ``parts`` the earlier ones it reads,
    oldest first. Each query runs once per part (an article and its passages are always in the
    same part, so joins stay inside one file) and leaves out the deleted articles.
    """

    def __init__(self, path: Path, segments: Sequence[Path] = (), parts: Sequence[Path] = ()) -> None:
        # immutable=1: a published generation never changes, so SQLite needs no locks or journal.
        self.connection = sqlite3.connect(_read_only(path), uri=True, check_same_thread=False)
        self.segments = SegmentReader(segments)
        try:
            self.schemas = []
            for number, part in enumerate(parts, start=1):
                self.connection.execute(f"ATTACH DATABASE ? AS part{number}", (_read_only(part),))
                self.schemas.append(f"part{number}")
            self.schemas.append("main")  # oldest first: ascending ids
            self.connection.execute("CREATE TEMP TABLE deleted (row INTEGER PRIMARY KEY)")
            if self._has_table("deleted_articles"):  # generations before format 6 have none
                self.connection.execute("INSERT INTO temp.deleted SELECT row FROM main.deleted_articles")
        except sqlite3.Error:
            self.close()
            raise

    def _has_table(self, name: str, schema: str = "main") -> bool:
        return (
            self.connection.execute(
                f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
            is not None
        )

    def _each(self, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
        """The rows of ``sql`` run on every part, oldest first; ``{s}.`` names the part's tables."""
        rows: list[Any] = []
        for schema in self.schemas:
            rows += self.connection.execute(sql.replace("{s}", schema), parameters).fetchall()
        return rows

    def close(self) -> None:
        self.connection.close()
        self.segments.close()

    def check_schema(self) -> None:
        """Raise sqlite3.Error unless the tables have the columns this version reads."""
        self.connection.execute(
            "SELECT d.row, f.source_path, f.content_key FROM deleted_articles d, files f LIMIT 0"
        ).fetchall()
        self._each(
            'SELECT p.id, p.key, p.article_row, p.paragraph, p.start, p."end", p.text_hash, p.boilerplate, '
            "p.heading, p.section, p.page, a.copy_of, a.byline, a.article_id, a.title, a.url, a.published, "
            "a.source_path, a.text, a.content_hash, a.minhash, s.start, v.key, v.vector "
            "FROM {s}.passages p, {s}.articles a, {s}.sentences s, {s}.vectors v LIMIT 0"
        )

    def part_searchable_ids(self) -> list[np.ndarray]:
        """Per part, oldest first: the ids of its passages in the search indexes (not
        boilerplate, not headings), ascending, deleted articles' included: a part's search
        files hold a row for each."""
        result = []
        for schema in self.schemas:
            # One comma-separated text parsed in C: half the time of a Python tuple per row (a
            # tenth of a second per 300,000 passages, on every open).
            (text,) = self.connection.execute(
                f"SELECT group_concat(id) FROM {schema}.passages WHERE boilerplate IS NULL AND heading = 0"
            ).fetchone()
            ids = np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, dtype=np.int64)
            result.append(np.sort(ids))
        return result

    def deleted_passage_ids(self) -> np.ndarray:
        """Ids of the searchable passages of deleted articles (held by earlier parts' indexes)."""
        rows = self._each(
            "SELECT p.id FROM {s}.passages p WHERE p.article_row IN (SELECT row FROM temp.deleted) "
            "AND p.boilerplate IS NULL AND p.heading = 0"
        )
        return np.sort(np.array([r[0] for r in rows], dtype=np.int64))

    def searchable_passage_ids(self) -> np.ndarray:
        """Ids of the live passages in the search indexes, in id order."""
        every = self.part_searchable_ids()
        ids = np.concatenate(every) if every else np.zeros(0, dtype=np.int64)
        deleted = self.deleted_passage_ids()
        return ids[~np.isin(ids, deleted)] if len(deleted) else ids

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._each(
            f"SELECT {PASSAGE_COLUMNS} FROM {{s}}.passages p JOIN {{s}}.articles a ON a.row = p.article_row "
            f"WHERE p.id IN ({marks})",
            list(map(int, ids)),
        )
        return {row[0]: passage_row(row) for row in rows}

    def passage_by_key(self, key: str) -> PassageRow | None:
        rows = self._each(
            f"SELECT {PASSAGE_COLUMNS} FROM {{s}}.passages p JOIN {{s}}.articles a ON a.row = p.article_row "
            f"WHERE p.key = ? AND {_LIVE}",
            (key,),
        )
        return passage_row(rows[0]) if rows else None

    def neighbours(self, ids: Sequence[int]) -> dict[int, int]:
        """For each passage, the searchable passage right after it in its article, if any."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._each(
            "SELECT p.id, (SELECT n.id FROM {s}.passages n WHERE n.article_row = p.article_row "
            "AND n.paragraph > p.paragraph AND n.boilerplate IS NULL AND n.heading = 0 "
            f"ORDER BY n.paragraph LIMIT 1) FROM {{s}}.passages p WHERE p.id IN ({marks})",
            list(map(int, ids)),
        )
        return {pid: nid for pid, nid in rows if nid is not None}

    def ledes(self, ids: Sequence[int]) -> set[int]:
        """Those of ``ids`` that open their article: no searchable passage comes before them."""
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = self._each(
            f"SELECT p.id FROM {{s}}.passages p WHERE p.id IN ({marks}) AND NOT EXISTS (SELECT 1 FROM "
            "{s}.passages n WHERE n.article_row = p.article_row AND n.paragraph < p.paragraph "
            "AND n.boilerplate IS NULL AND n.heading = 0)",
            list(map(int, ids)),
        )
        return {int(pid) for (pid,) in rows}

    def copies(self, text_hashes: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
        """Searchable passages with each text hash: (passage id, article id), in id order."""
        wanted = list(dict.fromkeys(text_hashes))
        found: dict[str, list[tuple[int, str]]] = {h: [] for h in wanted}
        if not wanted:
            return found
        marks = ",".join("?" * len(wanted))
        for text_hash, pid, article_id in self._each(
            "SELECT p.text_hash, p.id, a.article_id FROM {s}.passages p JOIN {s}.articles a "
            f"ON a.row = p.article_row WHERE p.text_hash IN ({marks}) AND p.boilerplate IS NULL "
            f"AND p.heading = 0 AND {_LIVE} ORDER BY p.id",
            wanted,
        ):
            found[text_hash].append((pid, article_id))
        return found

    def publication_rows(self) -> list[tuple[int, str | None, str, str, str | None]]:
        """(passage id, published, article id, source path, url) of every searchable passage."""
        return self._each(
            "SELECT p.id, a.published, a.article_id, a.source_path, a.url FROM {s}.passages p "
            f"JOIN {{s}}.articles a ON a.row = p.article_row WHERE p.boilerplate IS NULL AND p.heading = 0 "
            f"AND {_LIVE}"
        )

    def publication_dates(self) -> list[str]:
        """Every distinct publication date of the articles (ISO 8601 text)."""
        rows = self._each(
            f"SELECT DISTINCT published FROM {{s}}.articles a WHERE published IS NOT NULL AND {_LIVE}"
        )
        return list(dict.fromkeys(r[0] for r in rows))

    def article_list(self) -> list[tuple[str, str, str | None, str | None, int]]:
        """(article id, title, url, published, paragraphs) of every article, in index order."""
        return self._each(
            "SELECT a.article_id, a.title, a.url, a.published, COUNT(p.article_row) FROM {s}.articles a "
            f"LEFT JOIN {{s}}.passages p ON p.article_row = a.row WHERE {_LIVE} GROUP BY a.row ORDER BY a.row"
        )

    def article(self, article_id: str) -> tuple[ArticleRow, list[PassageRow]] | None:
        """An article's record and all its paragraphs (boilerplate and headings included)."""
        for schema in self.schemas:
            row = self.connection.execute(
                f"SELECT row, article_id, title, url, published, byline, source_path, text FROM {schema}.articles a "
                f"WHERE article_id = ? AND {_LIVE}",
                (article_id,),
            ).fetchone()
            if row is not None:
                rows = self.connection.execute(
                    f"SELECT {PASSAGE_COLUMNS} FROM {schema}.passages p JOIN {schema}.articles a "
                    "ON a.row = p.article_row WHERE p.article_row = ? ORDER BY p.paragraph",
                    (row[0],),
                ).fetchall()
                return ArticleRow(*row[1:]), [passage_row(r) for r in rows]
        return None

    def sentences(self, passage_ids: Sequence[int]) -> dict[int, list[SentenceRow]]:
        result: dict[int, list[SentenceRow]] = {int(i): [] for i in passage_ids}
        if not passage_ids:
            return result
        marks = ",".join("?" * len(passage_ids))
        for pid, start, end, text_hash, offset in self._each(
            'SELECT s.passage_id, s.start, s."end", p.text_hash, p.start FROM {s}.sentences s '
            f"JOIN {{s}}.passages p ON p.id = s.passage_id WHERE s.passage_id IN ({marks}) "
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
        return self.connection.execute("SELECT 1 FROM main.vectors LIMIT 1").fetchone() is not None

    def file_keys(self) -> dict[str, str]:
        """What each cleanly read file held (the generation's own list: the newest part's)."""
        return dict(self.connection.execute("SELECT source_path, content_key FROM main.files"))

    def source_paths(self) -> set[str]:
        """Every file (relative path) the generation holds articles from."""
        return {
            row[0] for row in self._each(f"SELECT DISTINCT source_path FROM {{s}}.articles a WHERE {_LIVE}")
        }

    def undated_count(self) -> int:
        return sum(
            r[0]
            for r in self._each(f"SELECT COUNT(*) FROM {{s}}.articles a WHERE published IS NULL AND {_LIVE}")
        )

    def articles_from(self, source_path: str) -> list[Article]:
        """The articles read from one file, as the reader returned them, each paragraph with
        its own boilerplate flag (rules 1-2; the corpus-wide rule 3 is worked out again)."""
        articles = []
        for schema in self.schemas:
            for row, article_id, title, url, published, byline, text in self.connection.execute(
                f"SELECT row, article_id, title, url, published, byline, text FROM {schema}.articles a "
                f"WHERE source_path = ? AND {_LIVE} ORDER BY row",
                (source_path,),
            ).fetchall():
                stored = self.connection.execute(
                    f'SELECT start, "end", boilerplate, page FROM {schema}.passages WHERE article_row = ? '
                    "ORDER BY paragraph",
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
            rows = self._each(
                f"SELECT content_hash, minhash FROM {{s}}.articles a WHERE minhash IS NOT NULL AND {_LIVE}"
            )
        except sqlite3.OperationalError:  # a format-3 generation: no such column
            return {}
        return {h: bytes(b) for h, b in rows}

    def syndicated_count(self) -> int:
        """How many articles are syndicated copies of another."""
        return sum(
            r[0]
            for r in self._each(
                f"SELECT COUNT(*) FROM {{s}}.articles a WHERE copy_of IS NOT NULL AND {_LIVE}"
            )
        )

    def article_hashes(self) -> dict[str, str]:
        return dict(self._each(f"SELECT article_id, content_hash FROM {{s}}.articles a WHERE {_LIVE}"))

    def article_states(self) -> dict[str, tuple[int, str, str | None]]:
        """Every live article: id -> (row, content hash, original of a syndicated copy)."""
        return {
            article_id: (row, content_hash, copy_of)
            for row, article_id, content_hash, copy_of in self._each(
                f"SELECT row, article_id, content_hash, copy_of FROM {{s}}.articles a WHERE {_LIVE}"
            )
        }

    def part_articles(self) -> list[PartRows]:
        """Per part, oldest first: its article rows (deleted ones included), its highest passage
        id (0 when it has none) and how many rows its search files hold."""
        result = []
        for schema in self.schemas:
            (text,) = self.connection.execute(f"SELECT group_concat(row) FROM {schema}.articles").fetchone()
            rows = np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, dtype=np.int64)
            last, searchable = self.connection.execute(
                f"SELECT max(id), count(CASE WHEN boilerplate IS NULL AND heading = 0 THEN 1 END) "
                f"FROM {schema}.passages"
            ).fetchone()
            result.append(PartRows(rows, int(last or 0), int(searchable)))
        return result

    def vector_count(self, article_rows: Iterable[int]) -> int:
        """Vectors the given articles' searchable passages use: one each, one per sentence."""
        self.connection.execute("CREATE TEMP TABLE IF NOT EXISTS counted (row INTEGER PRIMARY KEY)")
        self.connection.execute("DELETE FROM temp.counted")
        self.connection.executemany(
            "INSERT OR IGNORE INTO temp.counted VALUES (?)", ((int(r),) for r in article_rows)
        )
        rows = self._each(
            "SELECT COUNT(*) + (SELECT COUNT(*) FROM {s}.sentences s JOIN {s}.passages q ON q.id = s.passage_id "
            "WHERE q.article_row IN (SELECT row FROM temp.counted)) FROM {s}.passages p "
            "WHERE p.article_row IN (SELECT row FROM temp.counted) AND p.boilerplate IS NULL AND p.heading = 0"
        )
        return sum(r[0] for r in rows)


def _read_only(path: Path) -> str:
    return f"{path.resolve().as_uri()}?mode=ro&immutable=1"
