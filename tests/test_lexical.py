from __future__ import annotations

import bm25s
import numpy as np
import pytest

from qa.ingest import read_corpus
from qa.lexical import LexicalIndex, question_stopwords
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def texts() -> list[str]:
    corpus = read_corpus(EXAMPLES / "wikipedia" / "super-bowl-50.txt")
    article = corpus.articles[0]
    return [p.text_of(article) for p in article.paragraphs] + ["Don't re-use U.S.-based 4,000 café naïve"]


def test_query_tokens_are_what_bm25s_indexes(texts: list[str]) -> None:
    index = LexicalIndex.build(texts[:3], np.arange(3, dtype=np.int64))
    stemmer = index._stem
    expected = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    assert [index.tokens(t) for t in texts] == [list(t) for t in expected]


def test_content_terms_drop_question_words() -> None:
    index = LexicalIndex.build(["anything at all"], np.arange(1, dtype=np.int64))
    assert index.content_terms("Who was their quarterback, and what did he say?") == {"quarterback", "say"}
    assert {"what", "who", "how", "the"} <= question_stopwords()


def test_scores_and_search_agree_with_bm25s(texts: list[str]) -> None:
    ids = np.arange(100, 100 + len(texts), dtype=np.int64)
    index = LexicalIndex.build(texts, ids)
    scores, found = index.search("Denver Broncos defeated the Carolina Panthers", 5)
    assert list(scores) == sorted(scores, reverse=True) and len(found) == 5
    all_scores = index.scores("Denver Broncos defeated the Carolina Panthers")
    assert found[0] == ids[int(np.argmax(all_scores))]
    assert np.allclose(scores, np.sort(all_scores)[::-1][:5])
    assert index.search("zzzz qqqq", 5)[1].size == 0  # unknown words: nothing, no error
    assert index.search("the of and", 5)[1].size == 0  # only stopwords
