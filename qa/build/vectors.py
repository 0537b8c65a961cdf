"""A build's vector step: passage and sentence vectors streamed into the new store, then the
vector index (a FAISS file in the generation, or a Milvus collection of its own)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from qa.build.engines import EmbeddingEngine, Passage
from qa.errors import BadInputError
from qa.storage.generation import FAISS_NAME, SQLITE_NAME
from qa.storage.store import Store
from qa.storage.vectors.codec import as_stored
from qa.storage.vectors.faiss_index import FaissIndex
from qa.storage.vectors.milvus_index import MilvusIndex, drop_stale_collections, parse_vector_store
from qa.storage.vectors.segments import SegmentWriter

logger = logging.getLogger(__name__)

STREAM_CHUNK = 4096  # distinct passages whose cached vectors are in memory at once during a build


KEEP_STORE = "keep"  # no --vector-store given: keep what the live generation uses


def vector_store_option(value: str | None) -> str | None:
    """--vector-store checked before anything is written: a Milvus URI, None (FAISS) or KEEP_STORE."""
    if value is None:
        return KEEP_STORE
    if not isinstance(value, str):
        raise BadInputError(f"vector_store must be text like 'milvus://HOST:PORT', got {value!r}.")
    if value.strip().lower() == "faiss":
        return None
    return parse_vector_store(value).uri


ROWS_NAME = "vectors.rows.tmp"  # in the generation folder while it is built; removed before its manifest


class RowFile:
    """The passages' own vectors in passage order, on disk instead of in memory.

    Vectors arrive in any order (cached ones first, then as the engine returns them); the
    vector index wants them in passage order, all at once. At 10^6 passages that matrix was
    1.5 GB of the build's memory next to FAISS's own copy; in a file it is page cache, which
    the kernel can drop, and it is read back a chunk at a time.
    """

    def __init__(self, path: Path, rows: int, dim: int) -> None:
        self.path, self.rows, self.dim = path, rows, dim
        self._file = path.open("w+b")
        self._file.truncate(rows * dim * 4)  # unwritten rows read back as zeros

    def put(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Write ``vectors[i]`` as row ``rows[i]``; runs of consecutive rows in one write each."""
        order = np.argsort(rows, kind="stable")
        rows, vectors = rows[order], np.ascontiguousarray(vectors[order], dtype=np.float32)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        for start, end in zip(np.r_[0, breaks], np.r_[breaks, len(rows)], strict=True):
            os.pwrite(self._file.fileno(), vectors[start:end].tobytes(), int(rows[start]) * self.dim * 4)

    def chunks(self, size: int = STREAM_CHUNK * 8) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, vectors) in passage order, ``size`` rows at a time."""
        for start in range(0, self.rows, size):
            count = min(size, self.rows - start)
            data = os.pread(self._file.fileno(), count * self.dim * 4, start * self.dim * 4)
            yield start, np.frombuffer(data, dtype=np.float32).reshape(count, self.dim)

    def read_all(self) -> npt.NDArray[np.float32]:
        """Every row at once (Milvus takes its collection in one insert)."""
        out = np.zeros((self.rows, self.dim), dtype=np.float32)
        for start, vectors in self.chunks():
            out[start : start + len(vectors)] = vectors
        return out

    def close(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


def embed_into(
    segment: SegmentWriter,
    matrix: RowFile,
    searchable: list[tuple[int, Passage]],
    cache: Store | None,
    engine: EmbeddingEngine,
    show: bool,
    copy_cached: bool,
) -> tuple[int, float]:
    """Write the vectors this build embeds to ``segment``; the passages' own vectors to ``matrix``.

    First the vectors the previous generation (``cache``) has, STREAM_CHUNK distinct passages at
    a time (copied into ``segment`` only when ``copy_cached``: a compaction, or a previous
    generation that kept them in its own file); then the engine embeds the rest and they are
    written as its batches come back. Memory holds a chunk or a few batches of vectors (plus
    ``matrix``), never the corpus's. Returns how many passages were embedded and the seconds
    spent waiting for the engine.
    """
    rows_of: dict[str, list[int]] = {}
    for row, (_, p) in enumerate(searchable):
        rows_of.setdefault(p.key, []).append(row)  # identical paragraphs share their vectors
    unique = list({p.key: p for _, p in searchable}.values())

    def keep(vectors: dict[str, np.ndarray], keys: Iterable[str], write: bool) -> None:
        if write:
            segment.add(vectors)
        rows: list[int] = []
        own: list[np.ndarray] = []
        for key in keys:
            rows += rows_of[key]
            own += [vectors[key]] * len(rows_of[key])
        if rows:
            # As a segment gives them back (int8): every build path puts the same bits in FAISS.
            matrix.put(np.array(rows, dtype=np.int64), as_stored(np.stack(own)))

    missing: list[Passage] = []
    with tqdm(total=len(unique), desc="Embedding", unit="passage", disable=not show or not unique) as bar:
        for start in range(0, len(unique), STREAM_CHUNK):
            chunk = unique[start : start + STREAM_CHUNK]
            keys = [p.vector_keys for p in chunk]  # built once: ~6 strings a passage
            cached = cache.vectors(k for own in keys for k in own) if cache else {}
            found: dict[str, np.ndarray] = {}
            complete: list[str] = []
            for p, own in zip(chunk, keys, strict=True):
                if all(k in cached for k in own):
                    complete.append(p.key)
                    for k in own if copy_cached else own[:1]:  # a segment needs them all, FAISS one
                        found[k] = cached[k]
                else:
                    missing.append(p)
            keep(found, complete, copy_cached)
            bar.update(len(complete))
        started = time.perf_counter()
        for batch in engine.embed(missing):
            keep(batch.vectors, (k for k in batch.vectors if k in rows_of), True)
            bar.update(batch.passages)
        encode_seconds = time.perf_counter() - started if missing else 0.0
    return len(missing), encode_seconds


def _write_to_milvus(uri: str, generation: Path, ids: np.ndarray, matrix: RowFile) -> None:
    """This generation's vectors into its own Milvus collection, with passage keys and articles."""
    written = Store(generation / SQLITE_NAME)
    try:
        rows = written.passages(ids.tolist())
    finally:
        written.close()
    MilvusIndex.build(
        parse_vector_store(uri),
        generation.name,
        ids,
        matrix.read_all(),
        keys=[rows[int(i)].key for i in ids],
        article_ids=[rows[int(i)].article_id for i in ids],
    )


def drop_replaced_collections(uri: str | None, previous_uri: str | None, live: str) -> None:
    """After a publish: drop Milvus collections of generations that are gone (best effort)."""
    for store_uri in {uri, previous_uri} - {None}:
        assert store_uri is not None
        keep = {live} if store_uri == uri else set()  # a store the index left keeps nothing
        try:
            drop_stale_collections(parse_vector_store(store_uri), keep)
        except Exception as err:  # the new generation is live: a leftover collection only costs space
            logger.warning("Could not drop old Milvus collections at %s (%s)", store_uri, err)


def write_vector_index(
    generation: Path, ids: np.ndarray, matrix: RowFile, vector_store: str | None, index_type: str | None
) -> tuple[str, int | None]:
    """The generation's vector index: a FAISS file, or its Milvus collection. Returns the index
    type and HNSW search depth to record in the manifest. FAISS takes the vectors a chunk at a
    time, in passage order (the order breaks ties between equal scores)."""
    if vector_store is None:
        vector_index = FaissIndex.build(
            ids[:0], np.zeros((0, matrix.dim), np.float32), index_type, count=len(ids)
        )
        for start, vectors in matrix.chunks():
            vector_index.add(ids[start : start + len(vectors)], vectors)
        vector_index.save(generation / FAISS_NAME)
        return vector_index.index_type, vector_index.ef_search
    _write_to_milvus(vector_store, generation, ids, matrix)
    return "Flat", None
