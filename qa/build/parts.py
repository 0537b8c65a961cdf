"""Which parts of the previous generation a build keeps, and which articles its own part holds.

A generation is a list of parts (docs/DESIGN-STORAGE.md): the parts of earlier builds it keeps
unchanged, and its own, holding the articles that are new or changed since. An article of a kept
part that changed or went away is listed as deleted. Kept parts are only listed, never copied,
so a build that adds 1% of the articles writes about 1% of the index.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.build.reuse import Previous
from qa.ingest import Article
from qa.ingest.syndication import Copies
from qa.storage.manifest import FORMAT_VERSION, PartEntry
from qa.storage.vectors.faiss_index import PART_FLAT_LIMIT

logger = logging.getLogger(__name__)

# Each part is one more FAISS and BM25 search per question and one more attached SQLite file
# (SQLite attaches at most 10 by default). Past this many, the smaller parts are merged; so are
# the small exact (Flat) parts once they hold more than PART_FLAT_LIMIT passages together.
MAX_PARTS = 8
# A part whose articles are more than this share gone is rewritten: its deleted rows still cost
# search time and skew BM25's document frequencies (counted until a merge, as Lucene does).
MAX_DELETED_SHARE = 0.25
# Below this many passages a build rewrites the index as one part: writing 20,000 passages
# takes a few seconds, and one part is the fastest to search.
MIN_PARTED_PASSAGES = 20_000


@dataclass(frozen=True)
class PartPlan:
    """What a build writes: its own part's articles, the earlier parts it keeps (by generation
    name), the kept parts' article rows it deletes, and the first ids its part takes."""

    write: tuple[Article, ...]
    kept: dict[str, PartEntry] = field(default_factory=dict)
    deleted_rows: tuple[int, ...] = ()
    first_row: int = 1
    first_passage: int = 1
    kept_vectors: int = 0  # vectors the kept parts' live passages use

    @property
    def full(self) -> bool:
        return not self.kept


def estimated_vectors(previous: Previous | None, searchable: int) -> int:
    """Vectors ``searchable`` passages will use, at the previous generation's rate a passage (what
    tells a build to compact the segments, before it has split any sentences)."""
    if previous is None or not previous.manifest.counts.searchable:
        return searchable * 6
    counts = previous.manifest.counts
    return round(searchable * counts.vectors / counts.searchable)


def plan_parts(
    articles: Sequence[Article],
    copies: Copies,
    previous: Previous | None,
    *,
    rewrite: bool,
    vector_store: str | None,
    index_type: str | None,
) -> PartPlan:
    """Keep every earlier part that is still mostly live, unless ``rewrite`` (a forced build, a
    compaction), another vector store (Milvus keeps one collection a generation) or index type
    is asked for, the previous generation is of an older layout, or too little would be kept."""
    full = PartPlan(write=tuple(articles))
    if previous is None or rewrite or vector_store is not None:
        return full
    manifest = previous.manifest
    if (
        manifest.counts.searchable < MIN_PARTED_PASSAGES
        or manifest.format_version != FORMAT_VERSION
        or manifest.vector_store is not None
        or index_type not in (None, manifest.index_type)
    ):
        return full
    names = [*sorted(manifest.parts), previous.name]
    entries = {
        **manifest.parts,
        previous.name: PartEntry(manifest.index_type, dict(manifest.files), manifest.ef_search),
    }
    store = previous.store
    parts = store.part_articles()
    states = store.article_states()
    unchanged = {}  # article row -> article id, for articles exactly as stored
    for article in articles:
        state = states.get(article.id)
        if state and state[1] == article.content_hash and state[2] == copies.original_of.get(article.id):
            unchanged[state[0]] = article.id
    live = [int(np.isin(part.articles, list(unchanged)).sum()) if unchanged else 0 for part in parts]
    keep = [
        i
        for i, part in enumerate(parts)
        if live[i] and live[i] >= (1 - MAX_DELETED_SHARE) * len(part.articles)
    ]
    if keep:
        biggest = max(keep, key=lambda i: live[i])
        flat = [i for i in keep if i != biggest and entries[names[i]].index_type == "Flat"]
        if len(keep) >= MAX_PARTS:  # merge all but the biggest into this build's part
            keep = [biggest]
        elif sum(parts[i].searchable for i in flat) > PART_FLAT_LIMIT:
            # Small parts are searched exactly on every question: past the limit together,
            # they are merged into this build's part, which gets a graph.
            keep = [i for i in keep if i not in flat]
    if sum(live[i] for i in keep) * 2 < len(articles):
        return full  # mostly new: one part is faster to search and no slower to write
    kept_rows = np.concatenate([parts[i].articles for i in keep])
    kept_ids = {unchanged[r] for r in kept_rows.tolist() if r in unchanged}
    deleted = [int(r) for r in kept_rows if int(r) not in unchanged]
    gone = [state[0] for article_id, state in states.items() if article_id not in kept_ids]
    kept_vectors = max(manifest.counts.vectors - store.vector_count(gone), 0)
    logger.info(
        "Keeping %d of %d parts; writing %d articles, deleting %d",
        len(keep),
        len(parts),
        len(articles) - len(kept_ids),
        len(deleted),
    )
    return PartPlan(
        write=tuple(a for a in articles if a.id not in kept_ids),
        kept={names[i]: entries[names[i]] for i in keep},
        deleted_rows=tuple(deleted),
        first_row=max(int(part.articles.max()) if len(part.articles) else 0 for part in parts) + 1,
        first_passage=max(part.last_passage for part in parts) + 1,
        kept_vectors=kept_vectors,
    )
