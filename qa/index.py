"""Open a published generation: verify its manifest and files, then load its parts."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.embed import Encoder
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.generations import current_generation
from qa.lexical import LexicalIndex
from qa.manifest import Manifest, read_manifest, verify_files
from qa.store import Store
from qa.vectors import VectorIndex

logger = logging.getLogger(__name__)

SQLITE_NAME = "qa.sqlite"
FAISS_NAME = "vectors.faiss"
BM25_DIR = "bm25"


@dataclass
class Generation:
    path: Path
    manifest: Manifest
    store: Store
    vectors: VectorIndex
    lexical: LexicalIndex

    def close(self) -> None:
        self.store.close()


def describe(index_dir: Path, generation: Path, manifest: Manifest) -> dict[str, Any]:
    """What ``qa info`` and ``QA.info()`` report about a generation."""
    return {
        "index": str(index_dir),
        "generation": generation.name,
        "created": manifest.created,
        "qa_version": manifest.qa_version,
        "format_version": manifest.format_version,
        "model": manifest.model,
        "index_type": manifest.index_type,
        "counts": manifest.counts,
        "source": manifest.source,
        "size_bytes": sum(f["size"] for f in manifest.files.values()),
    }


def check_model(manifest: Manifest, encoder: Encoder, where: Path) -> None:
    name, dim = manifest.model.get("name"), manifest.model.get("dim")
    if name != encoder.name or dim != encoder.dim:
        raise IndexMismatchError(
            f"Index '{where}' was built with model {name!r} ({dim}-d) but this QA uses "
            f"{encoder.name!r} ({encoder.dim}-d). Open it with the same model, or rebuild with: "
            f"qa build ARTICLES --index {where.parent} --force"
        )


def open_generation(index_dir: Path, encoder: Encoder) -> Generation:
    path = current_generation(index_dir)
    manifest = read_manifest(path)
    check_model(manifest, encoder, path)
    verify_files(path, manifest)
    store = Store(path / SQLITE_NAME)
    try:
        try:
            store.check_schema()
        except sqlite3.Error as err:
            raise IndexMismatchError(
                f"Index '{path}' was written by another version of article-qa ({err}). "
                f"Rebuild with: qa build ARTICLES --index {index_dir} --force"
            ) from None
        ids = store.searchable_passage_ids()
        vectors = VectorIndex.load(path / FAISS_NAME, manifest.index_type)
        if len(vectors) != len(ids) or vectors.dim != encoder.dim:
            raise IndexCorruptError(
                f"Index '{path}' holds {len(vectors)} vectors of dimension {vectors.dim} for "
                f"{len(ids)} passages. Rebuild with: qa build ARTICLES --index {index_dir} --force"
            )
        lexical = LexicalIndex.load(path / BM25_DIR, ids)
    except Exception:
        store.close()
        raise
    logger.info("Opened %s: %s", path, manifest.counts)
    return Generation(path, manifest, store, vectors, lexical)
