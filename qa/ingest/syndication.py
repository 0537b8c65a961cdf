"""Syndicated copies: the same wire story republished by several outlets, with small edits.

Identical paragraphs are already cited once (their text hash is the same). Copies edited here
and there ("said on Tuesday" -> "said Tuesday", a local sentence added) are found at build time
by MinHash over word 4-shingles (datasketch): articles whose estimated Jaccard similarity is at
least COPY_THRESHOLD form a group, and every member names the group's original (the earliest
dated one, else the first by id). Different stories about one event share facts and quotes,
rarely four words in a row across most of their text, so they stay apart (edited copies of a
short story measured 0.66-0.75, another outlet's story of the same vote 0.00). Chosen on
bench/news.py's pairs (40 edited copies; weekly updates of one story as the hard negatives):
4-word shingles at 0.5 group 95% of the copies and no other pair; 15 words is the shortest text
compared (a two-sentence brief).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.ingest.article import Article

logger = logging.getLogger(__name__)

SHINGLE_WORDS = 4
PERMUTATIONS = 128
COPY_THRESHOLD = 0.5
SCHEME = "affine32"  # datasketch's hashing scheme; stored with each signature
_TAG = f"{SCHEME}:".encode()
MIN_WORDS = 15  # shorter articles carry too few shingles to call copies
_WORD = re.compile(r"\w+")


def _shingles(article: Article) -> set[bytes]:
    words = _WORD.findall(
        " ".join(p.text_of(article) for p in article.paragraphs if p.boilerplate is None).lower()
    )
    return (
        {" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - SHINGLE_WORDS + 1)}
        if len(words) >= MIN_WORDS
        else set()
    )


def _original_first(article: Article) -> tuple[int, str, str]:
    return (0, article.published, article.id) if article.published else (1, "", article.id)


@dataclass(frozen=True)
class Copies:
    """Which articles are copies of which, and every article's signature (to keep for next time)."""

    original_of: dict[str, str]  # copy's article id -> its group's original
    signatures: dict[str, bytes]  # article content hash -> MinHash values (b"" when too short)


def find_copies(articles: Sequence[Article], known: Mapping[str, bytes] | None = None) -> Copies:
    """Group near-copies. ``known``: signatures an earlier build computed, by content hash, so a
    rebuild computes only those of new and changed articles."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=COPY_THRESHOLD, num_perm=PERMUTATIONS)
    # Every MinHash draws the same permutations (seed 1); drawn once and shared, instead of per
    # article (a third of this step's time on a rebuild, and 2 KB an article held).
    permutations = MinHash(num_perm=PERMUTATIONS, scheme=SCHEME).permutations
    signatures: dict[str, MinHash] = {}
    kept: dict[str, bytes] = {}
    for article in articles:
        stored = (known or {}).get(article.content_hash)
        if stored is not None and stored and not stored.startswith(_TAG):
            stored = None  # made by another hashing scheme: compute it again
        if stored is None:
            shingles = _shingles(article)
            signature = (
                MinHash(num_perm=PERMUTATIONS, permutations=permutations, scheme=SCHEME) if shingles else None
            )
            if signature is not None:
                signature.update_batch(list(shingles))
            stored = _TAG + signature.hashvalues.astype("<u8").tobytes() if signature is not None else b""
        kept[article.content_hash] = stored
        if not stored:
            continue
        values = np.frombuffer(stored, dtype="<u8", offset=len(_TAG))
        signature = MinHash(hashvalues=values, permutations=permutations, scheme=SCHEME)
        lsh.insert(article.id, signature)
        signatures[article.id] = signature
    parent = {article_id: article_id for article_id in signatures}

    def root(article_id: str) -> str:
        while parent[article_id] != article_id:
            parent[article_id] = parent[parent[article_id]]
            article_id = parent[article_id]
        return article_id

    for article_id, signature in signatures.items():
        for other in lsh.query(signature):
            # LSH finds candidates; the estimate decides (LSH alone lets some pairs under the bar in).
            if other != article_id and signature.jaccard(signatures[other]) >= COPY_THRESHOLD:
                parent[root(other)] = root(article_id)
    groups: dict[str, list[Article]] = {}
    by_id = {a.id: a for a in articles}
    for article_id in signatures:
        groups.setdefault(root(article_id), []).append(by_id[article_id])
    copies: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        original = min(members, key=_original_first)
        copies.update({m.id: original.id for m in members if m.id != original.id})
    if copies:
        logger.info("%d articles are syndicated copies of %d others", len(copies), len(set(copies.values())))
    return Copies(copies, kept)
