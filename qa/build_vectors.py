"""A build's vector step: passage and sentence vectors streamed into the new store, then the
vector index (a FAISS file in the generation, or a Milvus collection of its own)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from qa.engines import EmbeddingEngine, Passage
from qa.errors import BadInputError
from qa.storage.faiss_index import FaissIndex
from qa.storage.generation import FAISS_NAME, SQLITE_NAME
from qa.storage.milvus_index import MilvusIndex, drop_stale_collections, parse_vector_store
from qa.storage.segments import SegmentWriter
from qa.storage.store import Store

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


def embed_into(
    segment: SegmentWriter,
    matrix: np.ndarray,
    searchable: list[tuple[int, Passage]],
    cache: Store | None,
    engine: EmbeddingEngine,
    show: bool,
    copy_cached: bool,
) -> tuple[int, float]:
    """Write the vectors this build embeds to ``segment``; put the passages' own vectors in ``matrix``.

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
        for key in keys:
            matrix[rows_of[key]] = vectors[key]

    missing: list[Passage] = []
    with tqdm(total=len(unique), desc="Embedding", unit="passage", disable=not show or not unique) as bar:
        for start in range(0, len(unique), STREAM_CHUNK):
            chunk = unique[start : start + STREAM_CHUNK]
            cached = cache.vectors(k for p in chunk for k in p.vector_keys) if cache else {}
            have = [p for p in chunk if all(k in cached for k in p.vector_keys)]
            missing += [p for p in chunk if any(k not in cached for k in p.vector_keys)]
            keep({k: cached[k] for p in have for k in p.vector_keys}, (p.key for p in have), copy_cached)
            bar.update(len(have))
        started = time.perf_counter()
        for batch in engine.embed(missing):
            keep(batch.vectors, (k for k in batch.vectors if k in rows_of), True)
            bar.update(batch.passages)
        encode_seconds = time.perf_counter() - started if missing else 0.0
    return len(missing), encode_seconds


def _write_to_milvus(uri: str, generation: Path, ids: np.ndarray, matrix: np.ndarray) -> None:
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
        matrix,
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
    generation: Path, ids: np.ndarray, matrix: np.ndarray, vector_store: str | None, index_type: str | None
) -> tuple[str, int | None]:
    """The generation's vector index: a FAISS file, or its Milvus collection. Returns the index
    type and HNSW search depth to record in the manifest."""
    if vector_store is None:
        vector_index = FaissIndex.build(ids, matrix, index_type)
        vector_index.save(generation / FAISS_NAME)
        return vector_index.index_type, vector_index.ef_search
    _write_to_milvus(vector_store, generation, ids, matrix)
    return "Flat", None
