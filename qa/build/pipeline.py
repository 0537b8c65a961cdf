"""Offline index build: read -> diff by content hash -> embed only new text -> publish.

Vectors live in shared segment files keyed by the hash of the embedded text, so an unchanged
paragraph is never embedded twice; an unchanged corpus writes nothing at all, and an update that
keeps the earlier parts writes only its new and changed articles (docs/DESIGN-STORAGE.md).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm.contrib.logging import logging_redirect_tqdm

from qa.build.engines import EmbeddingEngine, make_engine
from qa.build.errors import inside, write_problem
from qa.build.generation import generation_manifest, write_articles
from qa.build.parts import estimated_vectors, plan_parts
from qa.build.reuse import (
    Previous,
    corpus_hash,
    previous_store,
    reuse_from,
    signature_label,
    thoroughly_intact,
    unchanged,
)
from qa.build.vectors import (
    KEEP_STORE,
    ROWS_NAME,
    RowFile,
    drop_replaced_collections,
    embed_into,
    vector_store_option,
    write_vector_index,
)
from qa.errors import BadInputError, IndexWriteError
from qa.ingest import Corpus, read_corpus
from qa.ingest.syndication import find_copies
from qa.models.embed import (
    Encoder,
    LazyDefaultEncoder,
    SentenceTransformerEncoder,
)
from qa.results import BuildReport
from qa.storage.generation import BM25_DIR, SQLITE_NAME
from qa.storage.generations import (
    build_lock,
    current_name,
    new_generation,
    publish,
)
from qa.storage.lexical.bm25_index import Bm25Part
from qa.storage.manifest import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    Counts,
    SegmentEntry,
    describe_segment,
)
from qa.storage.signatures import save_signatures
from qa.storage.store_writer import StoreWriter
from qa.storage.vectors.codec import NIBBLE_SENTENCES_FROM
from qa.storage.vectors.faiss_index import check_index_type, choose_index_type
from qa.storage.vectors.segments import (
    SegmentWriter,
    new_segment_path,
    should_compact,
    tidy_index,
)

logger = logging.getLogger(__name__)


def _progress_default(show_progress: bool | None) -> bool:
    if show_progress is not None:
        return show_progress
    return logging.getLogger("qa").getEffectiveLevel() <= logging.INFO


def build_index(
    articles: str | os.PathLike[str],
    index: str | os.PathLike[str] = "index",
    *,
    encoder: Encoder | None = None,
    force: bool = False,
    show_progress: bool | None = None,
    index_type: str | None = None,
    model: str | os.PathLike[str] | None = None,
    abstain_below: float | None = None,
    vector_store: str | None = None,
    device: str | None = None,
    engine: str | None = None,
    ray_address: str | None = None,
    ray_actors: int | None = None,
    compact: bool = False,
    follow_symlinks: bool = False,
) -> BuildReport:
    """Build or update the index at ``index`` from the articles under ``articles``.

    Incremental: only text not embedded before is embedded. ``force`` re-embeds everything.
    ``model`` is a local sentence-transformers folder to embed with instead of the packaged
    all-MiniLM-L6-v2 (recorded in the manifest; ``QA.open`` loads it again); ``abstain_below``
    is the evidence threshold to record for it (see ``qa eval`` to calibrate one).
    ``vector_store`` keeps the vectors in Milvus (``milvus://HOST:PORT[/COLLECTION]``) instead of
    a FAISS file; by default a rebuild keeps the live generation's choice, ``"faiss"`` goes back.
    ``device`` (``auto``, ``cpu``, ``cuda``) is where the model embeds; auto takes a GPU if torch
    sees one. ``engine`` is where embedding runs: ``local`` (default, this process) or ``ray``
    (Ray Data actors on the cluster at ``ray_address``, or a local Ray when it is None;
    ``ray_actors`` of them, by default one per GPU or per two CPUs; ``pip install
    'article-qa[ray]'``). Either way the index is the same. A build of an index past 20,000
    passages writes a part with only the new and changed articles and lists the earlier parts
    (docs/DESIGN-STORAGE.md). ``compact`` rewrites it as one part and copies the vectors in use
    into one new segment, leaving out those of removed text (builds also do it on their own
    once removed ones outweigh the rest). Symbolic links leading outside ``articles`` are
    skipped (with the reason in the report) unless ``follow_symlinks``.
    """
    started = time.perf_counter()
    show = _progress_default(show_progress)
    check_index_type(index_type)  # before anything is written
    wanted_store = vector_store_option(vector_store)
    if abstain_below is not None and (
        isinstance(abstain_below, bool) or not isinstance(abstain_below, int | float)
    ):
        raise BadInputError(f"abstain_below must be a number, got {abstain_below!r}.")
    if encoder is None and device is not None:  # a bad or missing device fails before loading
        encoder = SentenceTransformerEncoder(model, device=device)
    elif encoder is None:
        encoder = LazyDefaultEncoder() if model is None else SentenceTransformerEncoder(model)
    embedding = make_engine(engine, encoder, ray_address, ray_actors)
    index_dir = Path(index)
    live_before = current_name(index_dir) if index_dir.is_dir() else None
    try:
        return _locked_build(
            articles,
            index_dir,
            encoder,
            embedding,
            follow_symlinks,
            force,
            _Settings(index_type, force, abstain_below, show, started, None, compact),
            wanted_store,
        )
    except (OSError, sqlite3.OperationalError) as err:
        if isinstance(err, OSError) and err.filename and not inside(Path(str(err.filename)), index_dir):
            raise BadInputError(f"Cannot use '{err.filename}': {err.strerror or err}.") from None
        published = index_dir.is_dir() and current_name(index_dir) not in (None, live_before)
        raise IndexWriteError(write_problem(index_dir, err, published)) from None


def _locked_build(
    articles: str | os.PathLike[str],
    index_dir: Path,
    encoder: Encoder,
    embedding: EmbeddingEngine,
    follow_symlinks: bool,
    force: bool,
    settings: _Settings,
    wanted_store: str | None,
) -> BuildReport:
    show = settings.show
    with build_lock(index_dir), logging_redirect_tqdm():
        live = current_name(index_dir)
        tidy_index(index_dir)
        previous = previous_store(index_dir, encoder)
        try:
            reuse = None
            if previous is not None and not force:
                try:  # the store has passed the sampled check only: a bad page may still show
                    reuse = reuse_from(index_dir, previous)
                    if live == previous.name and not settings.compact:
                        wanted = (
                            previous.manifest.vector_store if wanted_store == KEEP_STORE else wanted_store
                        )
                        report = unchanged(
                            articles, index_dir, previous, reuse, encoder, wanted, follow_symlinks
                        )
                        if report is not None:
                            return replace(report, seconds=time.perf_counter() - settings.started)
                except sqlite3.DatabaseError as err:
                    logger.warning(
                        "Not reusing generation %s (%s); rebuilding from scratch", previous.name, err
                    )
                    previous.store.close()
                    previous, reuse = None, None
            if previous is not None and not thoroughly_intact(index_dir, previous):
                previous.store.close()
                previous = None
                reuse = None
            corpus = read_corpus(articles, show_progress=show, reuse=reuse, follow_symlinks=follow_symlinks)
            if not corpus.articles:
                reasons = "; ".join(f"{s.path}: {s.reason}" for s in corpus.skipped[:3])
                raise BadInputError(
                    f"No readable articles in '{articles}': all {len(corpus.skipped)} files were "
                    f"skipped ({reasons}). Fix or remove those files."
                )
            hashed = corpus_hash({a.id: a.content_hash for a in corpus.articles}, encoder)
            store_uri = (
                wanted_store
                if wanted_store != KEEP_STORE
                else (previous.manifest.vector_store if previous else None)
            )
            settings = replace(settings, vector_store=store_uri)
            try:
                return _build(corpus, hashed, previous, encoder, embedding, index_dir, live, settings)
            except Exception:
                # A failed build leaves nothing half-written; whatever is live stays. (An
                # interrupt or a crash leaves its debris to the next build, which removes it.)
                tidy_index(index_dir)
                raise
        finally:
            if previous:
                previous.store.close()


@dataclass(frozen=True)
class _Settings:
    index_type: str | None
    force: bool
    abstain_below: float | None
    show: bool
    started: float
    vector_store: str | None  # a normalised milvus:// URI, or None for FAISS
    compact: bool = False  # copy the live vectors into one new segment


def _diff(corpus: Corpus, old: dict[str, str]) -> dict[str, int]:
    new = {a.id: a.content_hash for a in corpus.articles}
    return {
        "added": sum(1 for i in new if i not in old),
        "changed": sum(1 for i, h in new.items() if i in old and old[i] != h),
        "unchanged": sum(1 for i, h in new.items() if old.get(i) == h),
        "removed": sum(1 for i in old if i not in new),
    }


def _build(
    corpus: Corpus,
    corpus_hash: str,
    previous: Previous | None,
    encoder: Encoder,
    embedding: EmbeddingEngine,
    index_dir: Path,
    live: str | None,
    settings: _Settings,
) -> BuildReport:
    show, force, started = settings.show, settings.force, settings.started
    diff = _diff(corpus, previous.store.article_hashes() if previous else {})
    boilerplate = sum(1 for a in corpus.articles for p in a.paragraphs if p.boilerplate)
    passages = sum(len(a.paragraphs) for a in corpus.articles)
    report = BuildReport(
        index_dir=str(index_dir),
        generation=live or "",
        up_to_date=False,
        articles=len(corpus.articles),
        passages=passages,
        boilerplate=boilerplate,
        skipped=corpus.skipped,
        reused_files=corpus.reused,
        undated=sum(1 for a in corpus.articles if a.published is None),
        embedded=0,
        **diff,
    )
    same_store = previous is not None and previous.manifest.vector_store == settings.vector_store
    up_to_date = (
        previous is not None
        and previous.manifest.format_version == FORMAT_VERSION
        and previous.manifest.corpus_hash == corpus_hash
        and live
        and same_store
    )
    if up_to_date and not force and not settings.compact:
        logger.info("Index %s is up to date", index_dir)
        syndicated = previous.store.syndicated_count() if previous else 0
        if live and previous:  # the same articles; their files may carry new timestamps (a checkout)
            save_signatures(index_dir, signature_label(live, previous.manifest), corpus.signatures)
        return replace(report, up_to_date=True, syndicated=syndicated, seconds=time.perf_counter() - started)

    copies = find_copies(
        corpus.articles, previous.store.minhash_signatures() if previous and not force else None
    )
    report = replace(report, syndicated=len(copies.original_of))

    inherited = previous.manifest.vector_segments if previous and not force else {}
    cache = previous.store if previous and not force else None
    upgrade = previous is not None and cache is not None and previous.manifest.format_version < FORMAT_VERSION
    searchable_count = sum(
        1 for a in corpus.articles for p in a.paragraphs if p.boilerplate is None and not p.heading
    )
    compact = should_compact(
        inherited, estimated_vectors(previous, searchable_count), settings.compact, upgrade
    )
    plan = plan_parts(
        corpus.articles,
        copies,
        previous,
        rewrite=force or compact,
        vector_store=settings.vector_store,
        index_type=settings.index_type,
    )

    generation = new_generation(index_dir)
    segment = SegmentWriter(
        new_segment_path(index_dir, generation.name),
        sentence_bits=4 if searchable_count > NIBBLE_SENTENCES_FROM else 8,
    )
    # The writer is closed even if embedding is interrupted.
    with StoreWriter(generation / SQLITE_NAME, plan.first_row, plan.first_passage) as writer:
        rows = write_articles(writer, plan.write, show, copies)
        searchable = [(pid, p) for pid, p in rows if p.searchable]
        writer.add_deleted(plan.deleted_rows)
        writer.add_files(corpus.files)
        live_vectors = plan.kept_vectors + sum(
            1 + len(p.spans) // 8 for p in {p.key: p for _, p in searchable}.values()
        )
        matrix = RowFile(generation / ROWS_NAME, len(searchable), encoder.dim)
        try:
            embedded, encode_seconds = embed_into(
                segment, matrix, searchable, cache, embedding, show, copy_cached=compact
            )
        except BaseException:
            segment.close(commit=False)
            matrix.close()
            raise
    segment.close()
    segments: dict[str, SegmentEntry] = {} if compact else dict(inherited)
    if segment.rows:
        segments[segment.path.name] = describe_segment(segment.path, segment.rows)
    else:
        segment.path.unlink()  # nothing new to keep
    if compact:
        logger.info("Compacted the vectors into %s (%d vectors)", segment.path.name, segment.rows)

    ids = np.array([pid for pid, _ in searchable], dtype=np.int64)
    try:
        part_type = settings.index_type or choose_index_type(len(ids), beside_others=bool(plan.kept))
        index_type, ef_search = write_vector_index(generation, ids, matrix, settings.vector_store, part_type)
    finally:
        matrix.close()  # deletes the file: it is no part of the generation
    # The title (and the subheading above) help BM25 (measured on SQuAD: hit@1 +1 point);
    # dense vectors stay paragraph-only.
    Bm25Part.from_texts("\n".join(filter(None, (p.title, p.section, p.text))) for _, p in searchable).save(
        generation / BM25_DIR
    )

    manifest = generation_manifest(
        generation,
        corpus_hash,
        Path(corpus.root),
        encoder,
        abstain_below=settings.abstain_below,
        index_type=index_type,
        ef_search=ef_search,
        vector_store=settings.vector_store,
        segments=segments,
        parts=plan.kept,
        counts=Counts(
            articles=len(corpus.articles),
            passages=passages,
            searchable=searchable_count,
            boilerplate=boilerplate,
            headings=sum(1 for a in corpus.articles for q in a.paragraphs if q.heading),
            vectors=live_vectors,
            skipped_files=len(corpus.skipped),
        ),
    )
    (generation / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    publish(index_dir, generation)
    save_signatures(index_dir, signature_label(generation.name, manifest), corpus.signatures)
    tidy_index(index_dir)
    drop_replaced_collections(
        settings.vector_store, previous.manifest.vector_store if previous else None, generation.name
    )
    seconds = time.perf_counter() - started
    logger.info(
        "Published %s: %d passages (%d written), %d embedded, %.1fs (%.1fs encoding)",
        generation.name,
        passages,
        len(rows),
        embedded,
        seconds,
        encode_seconds,
    )
    return replace(
        report,
        generation=generation.name,
        embedded=embedded,
        seconds=seconds,
        encode_seconds=encode_seconds,
    )
