"""Offline index build: read -> diff by content hash -> embed only new text -> publish.

Vectors are cached in each generation's SQLite keyed by the hash of the embedded text, so an
unchanged paragraph is never embedded twice, and an unchanged corpus writes nothing at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from qa import __version__
from qa.embed import Encoder, LazyDefaultEncoder
from qa.errors import BadInputError, QAError
from qa.generations import build_lock, current_name, new_generation, publish, remove_debris
from qa.index import BM25_DIR, FAISS_NAME, SQLITE_NAME
from qa.ingest import Article, Corpus, read_corpus
from qa.ingest.article import text_hash
from qa.lexical import LexicalIndex
from qa.manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest, describe_files, read_manifest, verify_files
from qa.results import BuildReport
from qa.store import Store, StoreWriter
from qa.textspans import split_sentences
from qa.vectors import VectorIndex

logger = logging.getLogger(__name__)

CHUNKING = {"unit": "paragraph", "sentences": "rule-based", "embed": "paragraph text"}
ENCODE_CHUNK = 256  # texts per encoder call: bounded memory, steady progress


@dataclass
class _Passage:
    article_row: int
    paragraph: int
    start: int
    end: int
    text: str
    boilerplate: str | None
    sentences: list[tuple[int, int]]


def _progress_default(show_progress: bool | None) -> bool:
    if show_progress is not None:
        return show_progress
    return logging.getLogger("qa").getEffectiveLevel() <= logging.INFO


def _corpus_hash(corpus: Corpus, encoder: Encoder) -> str:
    h = hashlib.sha256(f"{FORMAT_VERSION}|{encoder.name}|{encoder.dim}|{sorted(CHUNKING.items())}".encode())
    for article in sorted(corpus.articles, key=lambda a: a.id):
        h.update(f"{article.id}\x00{article.content_hash}\n".encode())
    return h.hexdigest()


def _previous_store(index_dir: Path, encoder: Encoder) -> tuple[Manifest, Store] | None:
    """The live generation, if it is intact and made with the same model; else None."""
    name = current_name(index_dir)
    if name is None or not (index_dir / name).is_dir():
        return None
    try:
        manifest = read_manifest(index_dir / name)
        verify_files(index_dir / name, manifest)
    except QAError as err:
        logger.warning("Ignoring the current generation (%s); rebuilding from scratch", err)
        return None
    if manifest.model.get("name") != encoder.name or manifest.model.get("dim") != encoder.dim:
        logger.warning("The current generation used another model; re-embedding everything")
        return None
    return manifest, Store(index_dir / name / SQLITE_NAME)


def build_index(
    articles: str | os.PathLike[str],
    index: str | os.PathLike[str] = "index",
    *,
    encoder: Encoder | None = None,
    force: bool = False,
    show_progress: bool | None = None,
    index_type: str | None = None,
) -> BuildReport:
    """Build or update the index at ``index`` from the articles under ``articles``.

    Incremental: only text not embedded before is embedded. ``force`` re-embeds everything.
    """
    started = time.perf_counter()
    show = _progress_default(show_progress)
    encoder = encoder or LazyDefaultEncoder()
    index_dir = Path(index)
    with build_lock(index_dir), logging_redirect_tqdm():
        live = current_name(index_dir)
        remove_debris(index_dir, keep={live} if live else set())
        corpus = read_corpus(articles, show_progress=show)
        if not corpus.articles:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in corpus.skipped[:3])
            raise BadInputError(
                f"No readable articles in '{articles}': all {len(corpus.skipped)} files were "
                f"skipped ({reasons}). Fix or remove those files."
            )
        corpus_hash = _corpus_hash(corpus, encoder)
        previous = _previous_store(index_dir, encoder)
        try:
            return _build(
                corpus, corpus_hash, previous, encoder, index_dir, live, show, index_type, force, started
            )
        finally:
            if previous:
                previous[1].close()


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
    previous: tuple[Manifest, Store] | None,
    encoder: Encoder,
    index_dir: Path,
    live: str | None,
    show: bool,
    index_type: str | None,
    force: bool,
    started: float,
) -> BuildReport:
    diff = _diff(corpus, previous[1].article_hashes() if previous else {})
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
        embedded=0,
        **diff,
    )
    if not force and previous and previous[0].corpus_hash == corpus_hash and live:
        logger.info("Index %s is up to date", index_dir)
        return replace(report, up_to_date=True, seconds=time.perf_counter() - started)

    generation = new_generation(index_dir)
    writer = StoreWriter(generation / SQLITE_NAME)
    rows = _write_articles(writer, corpus.articles, show)
    searchable = [(pid, p) for pid, p in rows if p.boilerplate is None]
    texts: dict[str, str] = {}
    for _, p in searchable:
        texts[text_hash(p.text)] = p.text
        for s, e in p.sentences:
            sentence = p.text[s - p.start : e - p.start]
            texts[text_hash(sentence)] = sentence
    cached = previous[1].vectors(texts) if previous and not force else {}
    missing = [h for h in texts if h not in cached]
    encode_started = time.perf_counter()
    vectors = dict(cached)
    vectors.update(_encode(encoder, [texts[h] for h in missing], missing, show))
    encode_seconds = time.perf_counter() - encode_started
    writer.add_vectors(vectors)
    writer.close()

    ids = np.array([pid for pid, _ in searchable], dtype=np.int64)
    matrix = np.zeros((len(searchable), encoder.dim), dtype=np.float32)
    for row, (_, p) in enumerate(searchable):
        matrix[row] = vectors[text_hash(p.text)]
    vector_index = VectorIndex.build(ids, matrix, index_type)
    vector_index.save(generation / FAISS_NAME)
    LexicalIndex.build([p.text for _, p in searchable], ids).save(generation / BM25_DIR)

    manifest = Manifest(
        format_version=FORMAT_VERSION,
        qa_version=__version__,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        model={"name": encoder.name, "dim": encoder.dim, "normalized": True},
        index_type=vector_index.index_type,
        counts={
            "articles": len(corpus.articles),
            "passages": len(rows),
            "searchable": len(searchable),
            "boilerplate": boilerplate,
            "vectors": len(vectors),
            "skipped_files": len(corpus.skipped),
        },
        chunking=CHUNKING,
        corpus_hash=corpus_hash,
        source=str(Path(corpus.root).resolve()),
        files=describe_files(generation),
    )
    (generation / MANIFEST_NAME).write_text(manifest.to_json(), encoding="utf-8")
    publish(index_dir, generation)
    remove_debris(index_dir, keep={generation.name})
    seconds = time.perf_counter() - started
    logger.info(
        "Published %s: %d passages, %d embedded, %.1fs (%.1fs encoding)",
        generation.name,
        len(rows),
        len(missing),
        seconds,
        encode_seconds,
    )
    return replace(
        report,
        generation=generation.name,
        embedded=len(missing),
        seconds=seconds,
        encode_seconds=encode_seconds,
    )


def _write_articles(
    writer: StoreWriter, articles: tuple[Article, ...], show: bool
) -> list[tuple[int, _Passage]]:
    rows: list[tuple[int, _Passage]] = []
    for article in tqdm(articles, desc="Indexing articles", unit="article", disable=not show):
        article_row = writer.add_article(article)
        for p in article.paragraphs:
            text = p.text_of(article)
            sentences = [] if p.boilerplate else split_sentences(article.text, p.start, p.end)
            passage = _Passage(article_row, p.number, p.start, p.end, text, p.boilerplate, sentences)
            pid = writer.add_passage(article_row, p.number, p.start, p.end, text_hash(text), p.boilerplate)
            writer.add_sentences((pid, s, e, text_hash(article.text[s:e])) for s, e in sentences)
            rows.append((pid, passage))
    return rows


def _encode(encoder: Encoder, texts: list[str], hashes: list[str], show: bool) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not show or not texts) as bar:
        for start in range(0, len(texts), ENCODE_CHUNK):
            chunk = texts[start : start + ENCODE_CHUNK]
            vectors = encoder.encode(chunk)
            if vectors.shape != (len(chunk), encoder.dim):
                raise QAError(
                    f"Encoder {encoder.name!r} returned shape {vectors.shape} for {len(chunk)} texts"
                )
            out.update(zip(hashes[start : start + ENCODE_CHUNK], vectors, strict=True))
            bar.update(len(chunk))
    return out
