"""Words of a text as BM25 sees them: Lucene's tokens, English stopwords dropped, Snowball stems.

One analyzer serves the BM25 index (query tokens) and answer scoring (a question's content words
found in a sentence), so both agree on what a "word" is.
"""

from __future__ import annotations

import functools
import re
from typing import Any

TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's default token pattern
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


def make_stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


class Analyzer:
    """Turns text into stemmed terms, the way ``bm25s.tokenize`` does (checked in tests).

    Without bm25s's per-call overhead: answering a question analyses every sentence of the top
    passages. Stems are cached per word.
    """

    def __init__(self) -> None:
        self._stemmer = make_stemmer()

    @property
    def stemmer(self) -> Any:
        return self._stemmer

    def terms(self, text: str, stopwords: frozenset[str] | None = None) -> list[str]:
        """Lower-case words of two or more characters, stopwords dropped, then stemmed."""
        drop = lucene_stopwords() if stopwords is None else stopwords
        words = [w for w in TOKEN.findall(text.lower()) if w not in drop]
        return list(self._stemmer.stemWords(words))

    def content_terms(self, text: str) -> frozenset[str]:
        """Stemmed words of ``text`` without question and function words.

        Cached: answering a question analyses the sentences of the top passages, and the same
        passages come back for related questions.
        """
        return self._content_terms(text)

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one analyzer per process, cache on purpose
    def _content_terms(self, text: str) -> frozenset[str]:
        return frozenset(self.terms(text, question_stopwords()))


@functools.cache
def default_analyzer() -> Analyzer:
    return Analyzer()
