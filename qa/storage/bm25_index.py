"""BM25 over passages with bm25s (Lucene scoring, English stemming and stopwords)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.terms import Analyzer, default_analyzer

logger = logging.getLogger(__name__)

Ids = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Bm25Matches:
    """Scores of every row of the index for one query (one sparse pass)."""

    scores: npt.NDArray[np.float32]  # by row
    passage_ids: Ids  # row -> passage id, ascending
    coverage: float = 1.0  # idf-weighted share of the query's content words in the vocabulary

    @property
    def best(self) -> float:
        return float(self.scores.max()) if len(self.scores) else 0.0

    def top(self, k: int, allowed: Ids | None = None) -> Ids:
        """Passage ids of the ``k`` best positive scores, best first (equal scores: lower id first)."""
        scores = self.scores
        if allowed is not None:
            scores = np.where(np.isin(self.passage_ids, allowed, assume_unique=True), scores, 0.0)
        if k <= 0 or not len(scores):
            return np.zeros(0, dtype=np.int64)
        return self.passage_ids[_top_rows(scores, k)]

    def scores_of(self, ids: Ids) -> npt.NDArray[np.float32]:
        rows = np.searchsorted(self.passage_ids, ids)
        rows = np.minimum(rows, max(len(self.passage_ids) - 1, 0))
        found = (len(self.passage_ids) > 0) & (self.passage_ids[rows] == ids)
        return np.where(found, self.scores[rows] if len(self.scores) else 0.0, 0.0).astype(np.float32)


# Top k of 10^6 scores by a full argpartition took ~10 ms a question. A threshold read off a
# strided sample (its SAMPLE_RANK-th best) leaves a few hundred rows to sort instead; when fewer
# than k pass it, the rows with any score are used, so the result is the same either way.
SAMPLE_STRIDE = 97
SAMPLE_RANK = 5


def _top_rows(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Rows of the ``k`` highest positive scores, best first, ties broken by row."""
    candidates = None
    sample = scores[::SAMPLE_STRIDE]
    if len(sample) > SAMPLE_RANK:
        threshold = np.partition(sample, len(sample) - SAMPLE_RANK)[len(sample) - SAMPLE_RANK]
        if threshold > 0:
            above = np.flatnonzero(scores >= threshold)
            candidates = above if len(above) >= k else None
    if candidates is None:
        candidates = np.flatnonzero(scores > 0)
    values = scores[candidates]
    if len(values) > k:  # keep the k best and any equal to the k-th, then sort those
        kth = np.partition(values, len(values) - k)[len(values) - k]
        keep = values >= kth
        candidates, values = candidates[keep], values[keep]
    return candidates[np.lexsort((candidates, -values))[:k]]


class Bm25Index:
    """Row ``i`` of the bm25s index is passage ``passage_ids[i]``; ids are kept ascending."""

    def __init__(self, retriever: Any, passage_ids: Ids, analyzer: Analyzer | None = None) -> None:
        if len(passage_ids) > 1 and np.any(np.diff(passage_ids) <= 0):
            raise ValueError("BM25 passage ids must be strictly ascending")
        self._retriever = retriever
        self.passage_ids = passage_ids
        self._analyzer = analyzer or default_analyzer()
        self._vocabulary: dict[str, int] = retriever.vocab_dict
        # Documents per term (the CSC matrix holds one column per term), for idf weights.
        self._document_frequency = np.diff(np.asarray(retriever.scores["indptr"]))
        self._documents = int(retriever.scores.get("num_docs", len(passage_ids)))

    @classmethod
    def build(cls, texts: Iterable[str], passage_ids: Ids) -> Bm25Index:
        """The index of ``texts``, the passages ``passage_ids`` (ascending), streamed: texts may
        be a generator, read once (qa.storage.bm25_build)."""
        from qa.storage.bm25_build import build_bm25

        passage_ids = np.asarray(passage_ids, dtype=np.int64)
        analyzer = default_analyzer()
        if len(passage_ids) > 1 and np.any(np.diff(passage_ids) <= 0):
            # Rows must follow ascending ids: put the texts in that order (they are in memory).
            order = np.argsort(passage_ids, kind="stable")
            listed = list(texts)
            texts, passage_ids = (listed[i] for i in order), passage_ids[order]
        return cls(build_bm25(texts, analyzer), passage_ids, analyzer)

    @classmethod
    def load(cls, folder: Path, passage_ids: Ids) -> Bm25Index:
        import bm25s

        # Memory-mapped: opening reads no postings (~0.5 GB at 10^6 passages); a question pages
        # in only its terms' columns, and every process serving the index shares the pages.
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False), np.sort(passage_ids))

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    def __len__(self) -> int:
        return len(self.passage_ids)

    def tokens(self, text: str) -> list[str]:
        """BM25 query tokens: exactly what ``bm25s.tokenize`` makes of the indexed text."""
        return self._analyzer.terms(text)

    def match(self, text: str) -> Bm25Matches:
        tokens = [t for t in self.tokens(text) if t in self._vocabulary]
        if not tokens or not len(self.passage_ids):
            scores = np.zeros(len(self.passage_ids), dtype=np.float32)
        else:
            scores = np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
        return Bm25Matches(scores, self.passage_ids, self.coverage(text))

    def coverage(self, text: str) -> float:
        """The idf-weighted share of ``text``'s content words that occur in the index.

        A word no passage uses weighs like the rarest known word, so a question whose names
        the articles never mention scores low even when its common words are known.
        """
        content = self._analyzer.content_terms(text)
        if not content:
            return 1.0
        known = total = 0.0
        for term in content:
            row = self._vocabulary.get(term)
            df = (
                int(self._document_frequency[row])
                if row is not None and row < len(self._document_frequency)
                else 0
            )
            weight = math.log(1 + (self._documents - df + 0.5) / (df + 0.5))
            total += weight
            known += weight if df else 0.0
        return known / total if total else 1.0
