"""BM25 over passages (bm25s: Lucene scoring, English stemming and stopwords)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

# Words that carry no content in a question: Lucene's English stopwords (what BM25 drops) plus
# question and function words. Used to measure how much of a question a sentence covers.
QUESTION_STOPWORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their then
    there these they this to was will with what which who whom whose when where why how did do
    does done were been being has have had can could would should shall may might must from about
    than those its them he him his she her we our you your i me my yes very also just only so some
    any many much more most other another each one""".split()
)


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


class LexicalIndex:
    """Row ``i`` of the BM25 index is ``passage_ids[i]``."""

    def __init__(self, retriever: Any, passage_ids: npt.NDArray[np.int64]) -> None:
        self._retriever = retriever
        self.passage_ids = passage_ids
        self._stem = _stemmer()

    @classmethod
    def build(cls, texts: Sequence[str], passage_ids: npt.NDArray[np.int64]) -> LexicalIndex:
        import bm25s

        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False)
        retriever = bm25s.BM25()
        # bm25s sets its own logger to DEBUG and would print "Building index from IDs objects".
        bm25s_logger = logging.getLogger("bm25s")
        level = bm25s_logger.level
        bm25s_logger.setLevel(logging.WARNING)
        try:
            retriever.index(tokens, show_progress=False)
        finally:
            bm25s_logger.setLevel(level)
        return cls(retriever, passage_ids)

    @classmethod
    def load(cls, folder: Path, passage_ids: npt.NDArray[np.int64]) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), show_progress=False), passage_ids)

    def save(self, folder: Path) -> None:
        self._retriever.save(str(folder), show_progress=False)

    def tokens(self, text: str) -> list[str]:
        import bm25s

        result = bm25s.tokenize(
            [text], stopwords="en", stemmer=self._stem, return_ids=False, show_progress=False
        )
        return list(result[0])

    def content_terms(self, text: str) -> set[str]:
        """Stemmed words of ``text`` without question and function words."""
        import bm25s

        result = bm25s.tokenize(
            [text],
            stopwords=list(QUESTION_STOPWORDS),
            stemmer=self._stem,
            return_ids=False,
            show_progress=False,
        )
        return set(result[0])

    def search(self, query: str, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Top ``k`` (BM25 scores, passage ids); passages with score 0 are left out."""
        tokens = self.tokens(query)
        if not tokens or len(self.passage_ids) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        k = min(k, len(self.passage_ids))
        rows, scores = self._retriever.retrieve([tokens], k=k, show_progress=False, n_threads=1)
        keep = scores[0] > 0
        return scores[0][keep].astype(np.float32), self.passage_ids[rows[0][keep]]
