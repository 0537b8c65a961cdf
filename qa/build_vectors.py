"""A build's vector step: passage and sentence vectors streamed into the new store, then the
vector index (a FAISS file in the generation, or a Milvus collection of its own)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from qa.embed import Encoder, SpanEncoder, encode_spans_separately
from qa.errors import BadInputError, QAError
from qa.ingest.article import text_hash
from qa.storage.faiss_index import FaissIndex
from qa.storage.generation import FAISS_NAME, SQLITE_NAME
from qa.storage.milvus_index import MilvusIndex, drop_stale_collections, parse_vector_store
from qa.storage.store import Store, StoreWriter

logger = logging.getLogger(__name__)

ENCODE_CHUNK = 256  # texts per encoder call: bounded memory, steady progress
STREAM_CHUNK = 4096  # distinct passages whose vectors are in memory at once during a build


@dataclass
class Passage:
    """A paragraph as the build sees it: its text, flags, sentences and vector keys."""

    title: str
    section: str | None
    start: int  # offset of the passage in its article's text
    text: str
    searchable: bool  # neither boilerplate nor a heading
    sentences: list[tuple[int, int]]  # offsets in the article's text

    @property
    def key(self) -> str:
        """Key of the passage's cached vectors: the hash of its text."""
        return text_hash(self.text)

    @property
    def relative_sentences(self) -> list[tuple[int, int]]:
        return [(s - self.start, e - self.start) for s, e in self.sentences]

    @property
    def vector_keys(self) -> list[str]:
        """The passage's vector key, then one per sentence.

        Sentence vectors are pooled in the context of their paragraph, so their key names the
        paragraph and the span rather than the sentence's own text.
        """
        key = self.key
        return [key, *(f"{key}:{s}:{e}" for s, e in self.relative_sentences)]


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
    writer: StoreWriter,
    matrix: np.ndarray,
    searchable: list[tuple[int, Passage]],
    cache: Store | None,
    encoder: Encoder,
    show: bool,
) -> tuple[int, float]:
    """Store every passage's and sentence's vector; put the passages' own vectors in ``matrix``.

    Works through the distinct passages STREAM_CHUNK at a time: their vectors come from the
    previous generation (``cache``) or the encoder, are written to the new store and dropped,
    so memory holds one chunk of vectors (plus ``matrix``), never the corpus's. Returns how many
    passages were encoded and the seconds spent encoding.
    """
    rows_of: dict[str, list[int]] = {}
    for row, (_, p) in enumerate(searchable):
        rows_of.setdefault(p.key, []).append(row)  # identical paragraphs share their vectors
    unique = list({p.key: p for _, p in searchable}.values())
    embedded, encode_seconds = 0, 0.0
    with tqdm(total=len(unique), desc="Embedding", unit="passage", disable=not show or not unique) as bar:
        for start in range(0, len(unique), STREAM_CHUNK):
            chunk = unique[start : start + STREAM_CHUNK]
            vectors = cache.vectors(k for p in chunk for k in p.vector_keys) if cache else {}
            missing = [p for p in chunk if any(k not in vectors for k in p.vector_keys)]
            for batch_start in range(0, len(missing), ENCODE_CHUNK):
                batch = missing[batch_start : batch_start + ENCODE_CHUNK]
                started = time.perf_counter()
                vectors.update(encode(encoder, batch))
                encode_seconds += time.perf_counter() - started
                bar.update(len(batch))
            embedded += len(missing)
            writer.add_vectors({k: vectors[k] for p in chunk for k in p.vector_keys})
            for p in chunk:
                matrix[rows_of[p.key]] = vectors[p.key]
            bar.update(len(chunk) - len(missing))
    return embedded, encode_seconds


def encode(encoder: Encoder, passages: list[Passage]) -> dict[str, np.ndarray]:
    """Vectors of the passages and of their sentences, keyed by ``Passage.vector_keys``."""
    out: dict[str, np.ndarray] = {}
    if not passages:
        return out
    texts = [p.text for p in passages]
    spans = [p.relative_sentences for p in passages]
    if isinstance(encoder, SpanEncoder):
        text_vectors, span_vectors = encoder.encode_with_spans(texts, spans)
    else:
        text_vectors, span_vectors = encode_spans_separately(encoder, texts, spans)
    if text_vectors.shape != (len(passages), encoder.dim):
        raise QAError(
            f"Encoder {encoder.name!r} returned shape {text_vectors.shape} for {len(passages)} texts"
        )
    for passage, vector, sentence_vectors in zip(passages, text_vectors, span_vectors, strict=True):
        out.update(zip(passage.vector_keys, [vector, *sentence_vectors], strict=True))
    return out


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
