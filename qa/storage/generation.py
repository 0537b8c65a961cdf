"""Open a published generation: verify its manifest and files, then load its parts."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import IndexCorruptError, IndexMismatchError
from qa.models.embed import Encoder
from qa.results import IndexInfo
from qa.storage.generations import current_generation
from qa.storage.lexical.bm25_index import BM25_FILES, Bm25Index
from qa.storage.manifest import MANIFEST_NAME, REBUILD, Manifest, read_manifest, verify_files
from qa.storage.store import Store
from qa.storage.vectors.faiss_index import FaissIndex
from qa.storage.vectors.local import LocallyReadVectors
from qa.storage.vectors.milvus_index import MilvusIndex, parse_vector_store
from qa.storage.vectors.parts import PartedVectors
from qa.storage.vectors.segments import listed_segments

logger = logging.getLogger(__name__)

SQLITE_NAME = "qa.sqlite"
FAISS_NAME = "vectors.faiss"
BM25_DIR = "bm25"
# Every generation has these; a manifest that does not list one has been tampered with.
# (vectors.faiss only when the vectors are not kept in Milvus: see required_files.)
REQUIRED_FILES = (SQLITE_NAME, FAISS_NAME, *(f"{BM25_DIR}/{name}" for name in BM25_FILES))


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
    vectors: FaissIndex | PartedVectors | LocallyReadVectors
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
        parts=len(manifest.parts) + 1,
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
    required = required_files(manifest)
    for name, part in manifest.parts.items():
        missing = [f for f in required if f not in part.files]
        if missing:
            raise IndexCorruptError(
                f"'{path / MANIFEST_NAME}' does not list {missing[0]} of part {name}. {REBUILD}"
            )
    verify_files(path, manifest, required, thorough=thorough)
    if thorough and manifest.vector_store is not None:
        count = int(manifest.counts.searchable)
        MilvusIndex.connect(parse_vector_store(manifest.vector_store), path.name, manifest.model.dim, count)
    return path, manifest


def open_store(index_dir: Path, name: str, manifest: Manifest) -> Store:
    """A generation's store: its own part, the earlier parts it reads, its vector segments."""
    parts = [index_dir / part / SQLITE_NAME for part in sorted(manifest.parts)]
    return Store(index_dir / name / SQLITE_NAME, listed_segments(index_dir, manifest.vector_segments), parts)


def open_generation(
    index_dir: Path, encoder: Encoder, checked: tuple[Path, Manifest] | None = None
) -> Generation:
    """Open the live generation; ``checked`` is what read_checked_manifest just returned for it."""
    path, manifest = checked or read_checked_manifest(index_dir)
    check_model(manifest, encoder, path)
    store = open_store(index_dir, path.name, manifest)
    try:
        try:
            store.check_schema()
        except sqlite3.Error as err:
            raise IndexMismatchError(
                f"Index '{path}' was written by another version of article-qa ({err}). "
                f"Rebuild with: qa build ARTICLES --index {index_dir} --force"
            ) from None
        part_ids = store.part_searchable_ids()
        deleted = store.deleted_passage_ids()
        folders = [index_dir / part for part in sorted(manifest.parts)] + [path]
        vectors = _open_vectors(folders, manifest, part_ids, deleted, store)
        live = sum(len(ids) for ids in part_ids) - len(deleted)
        if len(vectors) != live or vectors.dim != encoder.dim:
            raise IndexCorruptError(
                f"Index '{path}' holds {len(vectors)} vectors of dimension {vectors.dim} for "
                f"{live} passages. Rebuild with: qa build ARTICLES --index {index_dir} --force"
            )
        lexical = Bm25Index.open([folder / BM25_DIR for folder in folders], part_ids, deleted)
    except Exception:
        store.close()
        raise
    logger.info("Opened %s: %s (%d parts)", path, manifest.counts, len(folders))
    return Generation(path, manifest, store, vectors, lexical)


def _open_vectors(
    folders: list[Path], manifest: Manifest, part_ids: list[np.ndarray], deleted: np.ndarray, store: Store
) -> FaissIndex | PartedVectors | LocallyReadVectors:
    if manifest.vector_store is None:
        kinds = [(p.index_type, p.ef_search) for _, p in sorted(manifest.parts.items())]
        kinds.append((manifest.index_type, manifest.ef_search))
        parts = [
            FaissIndex.load(folder / FAISS_NAME, kind, ef)
            for folder, (kind, ef) in zip(folders, kinds, strict=True)
        ]
        for folder, part, ids in zip(folders, parts, part_ids, strict=True):
            if len(part) != len(ids):
                raise IndexCorruptError(
                    f"Part '{folder}' holds {len(part)} vectors for {len(ids)} passages. {REBUILD}"
                )
        held = [(part, int(ids[0])) for part, ids in zip(parts, part_ids, strict=True) if len(ids)]
        if len(held) <= 1 and not len(deleted):
            return held[0][0] if held else parts[-1]
        return PartedVectors([part for part, _ in held], [first for _, first in held], deleted)
    location = parse_vector_store(manifest.vector_store)
    count = sum(len(ids) for ids in part_ids)
    # Searched in Milvus; stored vectors read from the local segments (no second round trip).
    return LocallyReadVectors(
        MilvusIndex.connect(location, folders[-1].name, manifest.model.dim, count), store
    )
