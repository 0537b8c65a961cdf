"""Vector segments: the cached vectors, shared by generations instead of copied into each.

A build writes the vectors it embedded into one new segment, ``segments/gen-NNNNNN.sqlite``
(named after the generation that wrote it), and never changes it afterwards. A generation's
manifest lists the segments it reads, with their checksums: the previous generation's, plus its
own when it embedded anything. So a rebuild that adds 1% of the articles writes 1% of the
vectors, not all of them. Vectors of removed text stay in old segments until a compaction
(``qa build --compact``, or automatically once the dead outweigh the live) copies the live ones
into a single new segment. Segments that the live generation does not list are deleted after a
publish and at the start of every build (a crashed build's segment). docs/DESIGN-STORAGE.md
gives the crash-safety argument.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from qa.errors import QAError
from qa.storage.generations import generations, read_pointer, remove_debris
from qa.storage.manifest import REUSABLE_VERSIONS, SEGMENTS_DIR, SegmentEntry, read_manifest
from qa.storage.vectors.codec import decode_record, decode_vector, encode_record, sentence_key

logger = logging.getLogger(__name__)

# A record is ~2.2 KB (a paragraph and ~5 sentences at 384 dimensions): on SQLite's default
# 4 KB pages one fits per page and nearly half of each page stays empty; 16 KB pages hold seven.
SCHEMA = """
PRAGMA page_size = 16384;
CREATE TABLE paragraphs (
    digest BLOB PRIMARY KEY,  -- sha256 of the paragraph's text (its vector key), 32 bytes
    record BLOB NOT NULL  -- its vector and its sentences', see qa.storage.vectors.codec
);
"""
# More segments than this and a build compacts: every lookup asks each segment in turn.
MAX_SEGMENTS = 16
# A build compacts when the listed segments hold more than this many vectors per live one.
MAX_ROWS_PER_LIVE = 2.0
LOOKUP_CHUNK = 500  # keys per SQL query (SQLite's bound-parameter limit is 999 on old builds)


def segments_dir(index_dir: Path) -> Path:
    return index_dir / SEGMENTS_DIR


def segment_path(index_dir: Path, name: str) -> Path:
    return segments_dir(index_dir) / name


def new_segment_path(index_dir: Path, generation: str) -> Path:
    """Where the build of ``generation`` writes its segment (named after it)."""
    return segment_path(index_dir, f"{generation}.sqlite")


class SegmentWriter:
    """Writes one new segment; ``close`` commits and makes it durable."""

    def __init__(self, path: Path, sentence_bits: int = 8) -> None:
        """``sentence_bits``: 8, or 4 for a big index (qa.storage.vectors.codec)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # debris of a crashed build with the same generation number
        self.path = path
        self.rows = 0
        self.sentence_bits = sentence_bits
        self.connection = sqlite3.connect(path)
        self.connection.executescript(SCHEMA)

    def add(self, vectors: dict[str, np.ndarray]) -> None:
        """Store whole paragraphs: each paragraph's vector (its key) with all its sentences'."""
        records = [
            (_digest(paragraph), encode_record(spans, np.stack(rows), self.sentence_bits), len(rows))
            for paragraph, (spans, rows) in _by_paragraph(vectors).items()
        ]
        if any(digest is None for digest, _, _ in records):
            raise ValueError("a segment stores paragraphs under the sha256 (hex) of their text")
        for digest, record, count in records:
            cursor = self.connection.execute(
                "INSERT OR IGNORE INTO paragraphs (digest, record) VALUES (?, ?)", (digest, record)
            )
            self.rows += count if cursor.rowcount == 1 else 0  # a paragraph already stored adds none

    def close(self, commit: bool = True) -> None:
        if commit:
            self.connection.commit()
        self.connection.close()
        if commit:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class SegmentReader:
    """Read-only lookups across segments, newest first."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.connections: list[sqlite3.Connection] = []
        for path in paths:
            # immutable=1: a written segment never changes, so SQLite needs no locks or journal.
            uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
            self.connections.append(sqlite3.connect(uri, uri=True, check_same_thread=False))
        # Format 5 keeps a record per paragraph; format 4 a row per vector (read for upgrades).
        self.layouts = [
            c.execute("SELECT 1 FROM sqlite_master WHERE name = 'paragraphs'").fetchone() is not None
            for c in self.connections
        ]

    def close(self) -> None:
        for connection in self.connections:
            connection.close()

    def lookup(self, keys: Iterable[str], found: dict[str, np.ndarray]) -> None:
        """Add to ``found`` the vectors of ``keys`` that it lacks (with their paragraphs' other
        vectors: one record holds them all)."""
        for connection, per_paragraph in zip(self.connections, self.layouts, strict=True):
            wanted = [k for k in dict.fromkeys(keys) if k not in found]
            if not wanted:
                return
            keys = wanted
            if per_paragraph:
                _lookup_records(connection, wanted, found)
            else:
                lookup_rows(connection, wanted, found)


def _by_paragraph(
    vectors: dict[str, np.ndarray],
) -> dict[str, tuple[list[tuple[int, int]], list[np.ndarray]]]:
    """Vectors keyed "<paragraph>" and "<paragraph>:<start>:<end>", grouped by paragraph (its own first)."""
    own: dict[str, np.ndarray] = {}
    spans: dict[str, list[tuple[tuple[int, int], np.ndarray]]] = {}
    for key, vector in vectors.items():
        paragraph, _, span = key.partition(":")
        if span:
            start, _, end = span.partition(":")
            spans.setdefault(paragraph, []).append(((int(start), int(end)), vector))
        else:
            own[paragraph] = vector
    if set(spans) - set(own):
        raise ValueError("sentence vectors without their paragraph's: a segment stores whole paragraphs")
    grouped = {}
    for paragraph, vector in own.items():
        sentences = sorted(spans.get(paragraph, []), key=lambda item: item[0])
        grouped[paragraph] = ([s for s, _ in sentences], [vector, *(v for _, v in sentences)])
    return grouped


def _digest(paragraph: str) -> bytes | None:
    """The stored form of a paragraph key (hex sha256); None for a key no segment can hold."""
    try:
        digest = bytes.fromhex(paragraph)
    except ValueError:
        return None
    return digest if len(digest) == 32 else None


def _lookup_records(connection: sqlite3.Connection, keys: list[str], found: dict[str, np.ndarray]) -> None:
    digests = [d for d in dict.fromkeys(_digest(k.partition(":")[0]) for k in keys) if d is not None]
    for start in range(0, len(digests), LOOKUP_CHUNK):
        chunk = digests[start : start + LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        for digest, blob in connection.execute(
            f"SELECT digest, record FROM paragraphs WHERE digest IN ({marks})", chunk
        ):
            paragraph = bytes(digest).hex()
            spans, vectors = decode_record(blob)
            found.setdefault(paragraph, vectors[0])
            for (s, e), vector in zip(spans, vectors[1:], strict=True):
                found.setdefault(sentence_key(paragraph, s, e), vector)


def lookup_rows(connection: sqlite3.Connection, keys: list[str], found: dict[str, np.ndarray]) -> None:
    """A vectors table of format 4 (a segment) or 3 (qa.sqlite): one row per vector under its key."""
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        for key, blob in connection.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
            found[key] = decode_vector(blob)


def listed_segments(index_dir: Path, names: Iterable[str]) -> list[Path]:
    """The paths of a generation's segments, newest first (named after the generation)."""
    return [segment_path(index_dir, name) for name in sorted(names, reverse=True)]


def remove_unlisted_segments(index_dir: Path, keep: Iterable[str]) -> int:
    """Delete segments no live generation lists (replaced ones, a crashed build's)."""
    folder = segments_dir(index_dir)
    if not folder.is_dir():
        return 0
    listed = set(keep)
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.name not in listed:
            logger.info("Removing unused vector segment %s", path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed += 1
    return removed


def tidy_index(index_dir: Path) -> None:
    """Remove what the live generation does not use: unfinished or replaced generations (but
    not those whose parts it reads), and vector segments it does not list (replaced by a
    compaction, or a failed build's)."""
    pointer = read_pointer(index_dir)
    if pointer.problem is not None:
        # Which generation was live is unknown: delete nothing; the next publish tidies up.
        remove_debris(index_dir, keep={g.name for g in generations(index_dir)})
        return
    live = pointer.name
    if live is None:
        remove_debris(index_dir, keep=set())
        remove_unlisted_segments(index_dir, keep=())
        return
    try:
        manifest = read_manifest(index_dir / live, REUSABLE_VERSIONS)
    except QAError:
        # Which parts and segments the live generation reads is unknown: delete none.
        remove_debris(index_dir, keep={g.name for g in generations(index_dir)})
        return
    remove_debris(index_dir, keep={live, *manifest.parts})
    remove_unlisted_segments(index_dir, keep=manifest.vector_segments)


def should_compact(inherited: dict[str, SegmentEntry], live_vectors: int, asked: bool, upgrade: bool) -> bool:
    """Whether this build copies the vectors in use into one new segment.

    When asked; when the previous generation is of an older format (``upgrade``: format 3 kept
    its vectors in its own file, format 4 a row per vector; copying them once brings them to
    this version's smaller layout without re-embedding); or when the listed segments are many
    or mostly hold vectors of text that is gone.
    """
    if asked or upgrade:
        return True
    if not inherited:
        return False
    rows = sum(entry.vectors for entry in inherited.values())
    return len(inherited) >= MAX_SEGMENTS or rows > MAX_ROWS_PER_LIVE * max(live_vectors, 1)
