"""BM25 over passages (bm25s: Lucene scoring, English stemming and stopwords)."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern
# Words that carry no content in a question, on top of Lucene's English stopwords (which BM25
# drops): question and function words. Used to measure how much of a question a sentence covers.
_QUESTION_WORDS = frozenset(
    """what which who whom whose when where why how did do does done were been being has have had
    can could would should shall may might must from about than those its them he him his she her
    we our you your i me my yes very also just only so some any many much more most other another
    each one""".split()
)


@functools.cache
def lucene_stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN  # imports bm25s: only when first needed

    return frozenset(STOPWORDS_EN)


@functools.cache
def question_stopwords() -> frozenset[str]:
    return lucene_stopwords() | _QUESTION_WORDS


def _terms(text: str, stopwords: frozenset[str], stemmer: Any) -> list[str]:
    """Lower-case words of two or more characters, stopwords dropped, then stemmed.

    The same steps as ``bm25s.tokenize`` (checked in tests), without its per-call overhead:
    answering a question tokenizes every sentence of the top passages.
    """
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stopwords]
    return list(stemmer.stemWords(words))


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


class LexicalIndex:
    """Row ``i`` of the BM25 index is ``passage_ids[i]``."""

    def __init__(self, retriever: Any, passage_ids: npt.NDArray[np.int64]) -> None:
        self._retriever = retriever
        self.passage_ids = passage_ids
        self._stem = _stemmer()
        self._vocabulary: dict[str, int] = retriever.vocab_dict

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
        """BM25 query tokens: exactly what ``bm25s.tokenize`` makes of the indexed text."""
        return _terms(text, lucene_stopwords(), self._stem)

    def content_terms(self, text: str) -> set[str]:
        """Stemmed words of ``text`` without question and function words."""
        return set(_terms(text, question_stopwords(), self._stem))

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """BM25 score of every passage, in ``passage_ids`` order (zeros for an empty query)."""
        tokens = [t for t in self.tokens(query) if t in self._vocabulary]
        if not tokens:
            return np.zeros(len(self.passage_ids), dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)

    def search(self, query: str, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Top ``k`` (BM25 scores, passage ids), best first; passages scoring 0 are left out."""
        scores = self.scores(query)
        k = min(k, len(scores))
        if k == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return scores[top], self.passage_ids[top]
