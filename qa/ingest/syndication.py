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
    from datasketch import MinHash

    # Every MinHash draws the same permutations (seed 1); drawn once and shared, instead of per
    # article (a third of this step's time on a rebuild).
    permutations = MinHash(num_perm=PERMUTATIONS, scheme=SCHEME).permutations
    kept: dict[str, bytes] = {}
    signed: list[Article] = []
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
        if stored:
            signed.append(article)
    matrix = np.zeros((len(signed), PERMUTATIONS), dtype=np.uint64)
    for row, article in enumerate(signed):
        matrix[row] = np.frombuffer(kept[article.content_hash], dtype="<u8", offset=len(_TAG))
    copies: dict[str, str] = {}
    for members in _groups(matrix):
        group = [signed[i] for i in members]
        original = min(group, key=_original_first)
        copies.update({m.id: original.id for m in group if m.id != original.id})
    if copies:
        logger.info("%d articles are syndicated copies of %d others", len(copies), len(set(copies.values())))
    return Copies(copies, kept)


def _bands() -> list[tuple[int, int]]:
    """The band layout datasketch's MinHashLSH picks for COPY_THRESHOLD (25 bands of 5 values)."""
    from datasketch import MinHashLSH

    return list(MinHashLSH(threshold=COPY_THRESHOLD, num_perm=PERMUTATIONS).hashranges)


def _groups(signatures: np.ndarray) -> list[list[int]]:
    """Rows whose signatures agree on COPY_THRESHOLD of their values, linked transitively.

    The candidates are MinHashLSH's (rows equal on every value of some band) and each is checked
    on the whole signature, as ``MinHash.jaccard`` does; but in arrays: datasketch's index kept
    ~10 KB of Python objects an article (~1 GB for the 10^5 articles of 10^6 paragraphs).
    """
    parent = list(range(len(signatures)))

    def root(row: int) -> int:
        while parent[row] != row:
            parent[row] = parent[parent[row]]
            row = parent[row]
        return row

    checked: set[tuple[int, int]] = set()
    for start, end in _bands() if len(signatures) > 1 else []:
        band = signatures[:, start:end]
        order = np.lexsort(band.T[::-1])
        same = np.all(band[order[1:]] == band[order[:-1]], axis=1)
        breaks = np.flatnonzero(~same) + 1
        starts, ends = np.r_[0, breaks], np.r_[breaks, len(order)]
        shared = ends - starts > 1  # most rows share a band with no other: skip them in C
        for first, last in zip(starts[shared].tolist(), ends[shared].tolist(), strict=True):
            run = order[first:last]
            for i, a in enumerate(run[:-1].tolist()):
                for b in run[i + 1 :].tolist():
                    pair = (min(a, b), max(a, b))
                    if pair in checked:
                        continue
                    checked.add(pair)
                    agree = np.count_nonzero(signatures[a] == signatures[b]) / signatures.shape[1]
                    if agree >= COPY_THRESHOLD:
                        parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for row in range(len(signatures)):
        groups.setdefault(root(row), []).append(row)
    return [members for members in groups.values() if len(members) > 1]
