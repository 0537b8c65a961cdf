"""What a build writes into its new generation besides vectors and search indexes: the articles,
passages and sentences of its store, and the manifest that describes the generation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tqdm.auto import tqdm

from qa.build.engines import Passage
from qa.build.reuse import CHUNKING
from qa.errors import QAError
from qa.ingest import Article
from qa.ingest.syndication import Copies
from qa.models.embed import Encoder
from qa.storage.generation import required_files
from qa.storage.manifest import (
    FORMAT_VERSION,
    Counts,
    Manifest,
    ModelInfo,
    PartEntry,
    SegmentEntry,
    describe_files,
)
from qa.storage.store_writer import StoreWriter, passage_key
from qa.text.spans import split_sentences
from qa.version import __version__


def write_articles(
    writer: StoreWriter, articles: tuple[Article, ...], show: bool, copies: Copies
) -> list[tuple[int, Passage]]:
    """Each article's row, its passages (keyed so that a passage keeps its key across builds:
    article, text hash, and which repeat of that text it is) and their sentences; the passage
    ids and texts, in writing order."""
    rows: list[tuple[int, Passage]] = []
    for article in tqdm(articles, desc="Indexing articles", unit="article", disable=not show):
        article_row = writer.add_article(
            article, copies.original_of.get(article.id), copies.signatures.get(article.content_hash)
        )
        section: str | None = None
        repeats: dict[str, int] = {}
        for p in article.paragraphs:
            searchable = p.boilerplate is None and not p.heading
            sentences = split_sentences(article.text, p.start, p.end) if searchable else []
            passage = Passage.of(article.title, section, article.text, p.start, p.end, searchable, sentences)
            repeats[passage.key] = repeats.get(passage.key, 0) + 1
            key = passage_key(article.id, passage.key, repeats[passage.key])
            pid = writer.add_passage(key, article_row, p, passage.key, section)
            if p.heading:
                section = p.text_of(article)
            writer.add_sentences((pid, s, e) for s, e in sentences)
            rows.append((pid, passage))
    return rows


def generation_manifest(
    generation: Path,
    corpus_hash: str,
    source: Path,
    encoder: Encoder,
    *,
    abstain_below: float | None,
    index_type: str,
    ef_search: int | None,
    vector_store: str | None,
    segments: dict[str, SegmentEntry],
    parts: dict[str, PartEntry],
    counts: Counts,
) -> Manifest:
    """The manifest of a generation whose files are all written: their checksums included."""
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        qa_version=__version__,
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        model=ModelInfo(
            name=encoder.name,
            dim=encoder.dim,
            normalized=True,
            path=getattr(encoder, "path", None),
            abstain_below=abstain_below,
        ),
        index_type=index_type,
        ef_search=ef_search,
        vector_store=vector_store,
        vector_segments=segments,
        parts=parts,
        counts=counts,
        chunking=CHUNKING,
        corpus_hash=corpus_hash,
        source=str(source.resolve()),
        files=describe_files(generation),
    )
    missing_files = [name for name in required_files(manifest) if name not in manifest.files]
    if missing_files:
        raise QAError(f"The build wrote no {missing_files}; this is a bug in article-qa.")
    return manifest
