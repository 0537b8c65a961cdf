"""Open a published generation: verify its manifest and files, then load its parts."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from qa.embed import Encoder
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.results import IndexInfo
from qa.storage.bm25_index import Bm25Index
from qa.storage.faiss_index import FaissIndex
from qa.storage.generations import current_generation
from qa.storage.local_vectors import LocallyReadVectors
from qa.storage.manifest import Manifest, read_manifest, verify_files
from qa.storage.milvus_index import MilvusIndex, parse_vector_store
from qa.storage.segments import listed_segments
from qa.storage.store import Store

logger = logging.getLogger(__name__)

SQLITE_NAME = "qa.sqlite"
FAISS_NAME = "vectors.faiss"
BM25_DIR = "bm25"
# Every generation has these; a manifest that does not list one has been tampered with.
# (vectors.faiss only when the vectors are not kept in Milvus: see required_files.)
REQUIRED_FILES = (
    SQLITE_NAME,
    FAISS_NAME,
    f"{BM25_DIR}/params.index.json",
    f"{BM25_DIR}/vocab.index.json",
    f"{BM25_DIR}/data.csc.index.npy",
    f"{BM25_DIR}/indices.csc.index.npy",
    f"{BM25_DIR}/indptr.csc.index.npy",
)


def required_files(manifest: Manifest) -> tuple[str, ...]:
    """The files a generation must list: all of REQUIRED_FILES, less FAISS's with Milvus."""
    if manifest.vector_store is None:
        return REQUIRED_FILES
    return tuple(name for name in REQUIRED_FILES if name != FAISS_NAME)


@dataclass
class Generation:
    path: Path
    manifest: Manifest
    store: Store
    vectors: FaissIndex | LocallyReadVectors
    lexical: Bm25Index

    def close(self) -> None:
        self.store.close()


def describe(index_dir: Path, generation: Path, manifest: Manifest, abstain_below: float) -> IndexInfo:
    """What ``qa info`` and ``QA.info()`` report about a generation."""
    counts = manifest.counts
    return IndexInfo(
        index=str(index_dir),
        generation=generation.name,
        created=manifest.created,
        qa_version=manifest.qa_version,
        format_version=manifest.format_version,
        model=manifest.model.name,
        model_path=manifest.model.path,
        dim=manifest.model.dim,
        abstain_below=abstain_below,
        index_type=manifest.index_type,
        articles=counts.articles,
        passages=counts.passages,
        searchable=counts.searchable,
        boilerplate=counts.boilerplate,
        headings=counts.headings,
        source=manifest.source,
        size_bytes=manifest.size_bytes,
        ef_search=manifest.ef_search,
        vector_store=manifest.vector_store,
        vectors=counts.vectors,
        segments=len(manifest.vector_segments),
    )


def check_model(manifest: Manifest, encoder: Encoder, where: Path) -> None:
    name, dim = manifest.model.name, manifest.model.dim
    if name != encoder.name or dim != encoder.dim:
        raise IndexMismatchError(
            f"Index '{where}' was built with model {name!r} ({dim}-d) but this QA uses "
            f"{encoder.name!r} ({encoder.dim}-d). Open it with the same model, or rebuild with: "
            f"qa build ARTICLES --index {where.parent} --force"
        )


def read_checked_manifest(index_dir: Path, *, thorough: bool = False) -> tuple[Path, Manifest]:
    """The live generation's folder and manifest, every file checked against it.

    Opening checks sizes and fingerprints (megabytes read, even for a huge index); ``thorough``
    compares every byte with its sha256, as ``qa verify`` does.
    """
    path = current_generation(index_dir)
    manifest = read_manifest(path)
    verify_files(path, manifest, required_files(manifest), thorough=thorough)
    if thorough and manifest.vector_store is not None:
        count = int(manifest.counts.searchable)
        MilvusIndex.connect(parse_vector_store(manifest.vector_store), path.name, manifest.model.dim, count)
    return path, manifest


def open_generation(
    index_dir: Path, encoder: Encoder, checked: tuple[Path, Manifest] | None = None
) -> Generation:
    """Open the live generation; ``checked`` is what read_checked_manifest just returned for it."""
    path, manifest = checked or read_checked_manifest(index_dir)
    check_model(manifest, encoder, path)
    store = Store(path / SQLITE_NAME, listed_segments(index_dir, manifest.vector_segments))
    try:
        try:
            store.check_schema()
        except sqlite3.Error as err:
            raise IndexMismatchError(
                f"Index '{path}' was written by another version of article-qa ({err}). "
                f"Rebuild with: qa build ARTICLES --index {index_dir} --force"
            ) from None
        ids = store.searchable_passage_ids()
        vectors = _open_vectors(path, manifest, len(ids), encoder.dim, store)
        if len(vectors) != len(ids) or vectors.dim != encoder.dim:
            raise IndexCorruptError(
                f"Index '{path}' holds {len(vectors)} vectors of dimension {vectors.dim} for "
                f"{len(ids)} passages. Rebuild with: qa build ARTICLES --index {index_dir} --force"
            )
        lexical = Bm25Index.load(path / BM25_DIR, ids)
    except Exception:
        store.close()
        raise
    logger.info("Opened %s: %s", path, manifest.counts)
    return Generation(path, manifest, store, vectors, lexical)


def _open_vectors(
    path: Path, manifest: Manifest, count: int, dim: int, store: Store
) -> FaissIndex | LocallyReadVectors:
    if manifest.vector_store is None:
        return FaissIndex.load(path / FAISS_NAME, manifest.index_type, manifest.ef_search)
    location = parse_vector_store(manifest.vector_store)
    # Searched in Milvus; stored vectors read from the local segments (no second round trip).
    return LocallyReadVectors(MilvusIndex.connect(location, path.name, dim, count), store)
