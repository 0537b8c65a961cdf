"""What a build takes from the previous generation: which one, checked how, what it can
reuse of it, and whether anything changed at all (then the build stops having read nothing)."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import NamedTuple

from qa.errors import QAError
from qa.ingest import Reuse, unchanged_files
from qa.models.embed import Encoder
from qa.results import BuildReport
from qa.storage.generation import open_store
from qa.storage.generations import CURRENT, generations, read_pointer
from qa.storage.manifest import FORMAT_VERSION, REUSABLE_VERSIONS, Manifest, read_manifest, verify_files
from qa.storage.signatures import load_signatures
from qa.storage.store import Store

logger = logging.getLogger(__name__)

CHUNKING = {
    "unit": "paragraph; subheadings are the section of the paragraphs under them, never cited",
    "sentences": "rule-based split, vectors pooled from the paragraph's tokens",
    "dense": "paragraph text; past the model's window, the mean of sentence-aligned windows",
    "bm25": "title + section + paragraph text",
}


def corpus_hash(article_hashes: dict[str, str], encoder: Encoder) -> str:
    """Of every article (id -> content hash) and of how they are embedded and stored."""
    h = hashlib.sha256(f"{FORMAT_VERSION}|{encoder.name}|{encoder.dim}|{sorted(CHUNKING.items())}".encode())
    for article_id in sorted(article_hashes):
        h.update(f"{article_id}\x00{article_hashes[article_id]}\n".encode())
    return h.hexdigest()


class Previous(NamedTuple):
    """The generation a build reuses from."""

    manifest: Manifest
    store: Store
    name: str


def previous_store(index_dir: Path, encoder: Encoder) -> Previous | None:
    """The generation to reuse embeddings from: the live one if intact and made with the same
    model; when CURRENT is damaged, the newest generation that checks out; else None."""
    pointer = read_pointer(index_dir)
    if pointer.name is not None:
        candidates = [pointer.name]
    elif pointer.problem is not None:
        logger.warning("%s %s; reusing the newest intact generation", index_dir / CURRENT, pointer.problem)
        candidates = [g.name for g in reversed(generations(index_dir))]
    else:
        return None
    for name in candidates:
        try:
            manifest = read_manifest(index_dir / name, REUSABLE_VERSIONS)
            # Sizes and fingerprints, as opening does: a no-change rebuild stops there. Before
            # anything is reused into a new generation its own files are read byte by byte.
            verify_files(index_dir / name, manifest, thorough=False)
        except QAError as err:
            logger.warning("Not reusing generation %s (%s)", name, err)
            continue
        if manifest.model.name != encoder.name or manifest.model.dim != encoder.dim:
            logger.warning("Generation %s used another model; re-embedding everything", name)
            return None
        return Previous(manifest, open_store(index_dir, name, manifest), name)
    logger.warning("No intact generation to reuse; rebuilding from scratch")
    return None


def thoroughly_intact(index_dir: Path, previous: Previous) -> bool:
    """Its own files byte by byte, before anything is reused from them (the shared segments by
    fingerprint: hashed whole when written, never changed, and ``qa verify`` reads them all)."""
    try:
        verify_files(index_dir / previous.name, previous.manifest, thorough_segments=False)
    except QAError as err:
        logger.warning("Not reusing generation %s (%s); rebuilding from scratch", previous.name, err)
        return False
    return True


def unchanged(
    articles: str | os.PathLike[str],
    index_dir: Path,
    previous: Previous,
    reuse: Reuse,
    encoder: Encoder,
    wanted_store: str | None,
    follow_symlinks: bool,
) -> BuildReport | None:
    """The report of a build that has nothing to do, found from file signatures alone (no
    article read), or None when something may have changed."""
    manifest, store = previous.manifest, previous.store
    if (
        manifest.format_version != FORMAT_VERSION
        or manifest.vector_store != wanted_store
        or manifest.source != str(Path(articles).resolve())
    ):
        return None
    trusted = {path for path, (_, reason) in reuse.signatures.items() if reason is None}
    # Every file the index holds articles from must be one whose signature is trusted: a file
    # read with problems, or too fresh to trust, has none, and its removal would go unseen.
    if not trusted or not store.source_paths() <= trusted:
        return None
    skipped = unchanged_files(articles, reuse, follow_symlinks=follow_symlinks)
    if skipped is None:
        return None
    hashes = store.article_hashes()
    if corpus_hash(hashes, encoder) != manifest.corpus_hash:  # another chunking or model version
        return None
    counts = manifest.counts
    logger.info("Index %s is up to date (no file changed)", index_dir)
    return BuildReport(
        index_dir=str(index_dir),
        generation=previous.name,
        up_to_date=True,
        articles=counts.articles,
        passages=counts.passages,
        added=0,
        changed=0,
        removed=0,
        unchanged=len(hashes),
        embedded=0,
        boilerplate=counts.boilerplate,
        skipped=skipped,
        reused_files=len(reuse.signatures) - sum(1 for _, reason in reuse.signatures.values() if reason),
        undated=store.undated_count(),
        syndicated=store.syndicated_count(),
    )


def signature_label(name: str, manifest: Manifest) -> str:
    """Names one published generation for the signature cache (names restart on a new index)."""
    return f"{name}@{manifest.created}@{manifest.corpus_hash[:16]}"


def reuse_from(index_dir: Path, previous: Previous) -> Reuse:
    store = previous.store
    signatures = load_signatures(index_dir, signature_label(previous.name, previous.manifest))
    return Reuse(keys=store.file_keys(), signatures=signatures, articles=store.articles_from)
