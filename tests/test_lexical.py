from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import pytest

from qa.ingest import read_corpus
from qa.storage.bm25_index import Bm25Index
from qa.terms import default_analyzer, question_stopwords
from tests.conftest import EXAMPLES


@pytest.fixture(scope="module")
def texts() -> list[str]:
    corpus = read_corpus(EXAMPLES / "wikipedia" / "super-bowl-50.txt")
    article = corpus.articles[0]
    return [p.text_of(article) for p in article.paragraphs] + ["Don't re-use U.S.-based 4,000 café naïve"]


def test_query_tokens_are_what_bm25s_indexes(texts: list[str]) -> None:
    index = Bm25Index.build(texts[:3], np.arange(3, dtype=np.int64))
    stemmer = default_analyzer().stemmer
    expected = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    assert [index.tokens(t) for t in texts] == [list(t) for t in expected]


def test_content_terms_drop_question_words() -> None:
    assert default_analyzer().content_terms("Who was their quarterback, and what did he say?") == {
        "quarterback",
        "say",
    }
    assert {"what", "who", "how", "the"} <= question_stopwords()


def test_scores_and_search_agree_with_bm25s(texts: list[str]) -> None:
    ids = np.arange(100, 100 + len(texts), dtype=np.int64)
    index = Bm25Index.build(texts, ids)
    query = "Denver Broncos defeated the Carolina Panthers"
    match = index.match(query)
    found = match.top(5)
    scores = match.scores_of(found)
    assert list(scores) == sorted(scores, reverse=True) and len(found) == 5
    reference = bm25s.BM25()
    reference.index(
        bm25s.tokenize(texts, stopwords="en", stemmer=default_analyzer().stemmer, show_progress=False),
        show_progress=False,
    )
    all_scores = reference.get_scores(index.tokens(query))
    assert found[0] == ids[int(np.argmax(all_scores))]
    assert np.allclose(scores, np.sort(all_scores)[::-1][:5])
    assert match.best == max(all_scores)
    assert match.scores_of(np.array([5, 99999], dtype=np.int64)).tolist() == [0.0, 0.0]  # not held
    assert index.match("zzzz qqqq").top(5).size == 0  # unknown words: nothing, no error
    assert index.match("the of and").top(5).size == 0  # only stopwords


def test_ids_out_of_order_are_sorted_with_their_texts() -> None:
    index = Bm25Index.build(["apples and pears", "boats on rivers"], np.array([9, 3], dtype=np.int64))
    assert index.match("boats").top(2).tolist() == [3]
    assert index.match("pears").top(2).tolist() == [9]


def test_a_saved_index_opens_memory_mapped_and_scores_the_same(texts: list[str], tmp_path: Path) -> None:
    ids = np.arange(7, 7 + len(texts), dtype=np.int64)
    built = Bm25Index.build(texts, ids)
    built.save(tmp_path / "bm25")
    loaded = Bm25Index.load(tmp_path / "bm25", ids[::-1].copy())
    # Opening reads no postings: they stay on disk until a question needs them.
    assert all(isinstance(loaded._retriever.scores[k], np.memmap) for k in ("data", "indices", "indptr"))
    query = "Denver Broncos defeated the Carolina Panthers"
    assert np.array_equal(loaded.match(query).scores, built.match(query).scores)
    assert loaded.match(query).top(5).tolist() == built.match(query).top(5).tolist()
    assert loaded.coverage("Broncos zzzz") == built.coverage("Broncos zzzz")


def test_the_streamed_build_writes_what_bm25s_would(
    texts: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Same vocabulary, and per term the same documents with bit-identical scores, across
    chunk boundaries (a tiny chunk), empty and stopword-only documents included."""
    from qa.storage import bm25_build

    monkeypatch.setattr(bm25_build, "CHUNK_DOCUMENTS", 3)
    corpus = [*texts, "", "the and of", texts[0]]
    built = Bm25Index.build(iter(corpus), np.arange(len(corpus), dtype=np.int64))
    built.save(tmp_path / "bm25")
    ours = bm25s.BM25.load(str(tmp_path / "bm25"))
    theirs = bm25s.BM25()
    theirs.index(
        bm25s.tokenize(corpus, stopwords="en", stemmer=default_analyzer().stemmer, show_progress=False),
        show_progress=False,
    )
    assert ours.vocab_dict.keys() == theirs.vocab_dict.keys()
    assert ours.scores["num_docs"] == theirs.scores["num_docs"] == len(corpus)
    for name in ("data", "indices", "indptr"):
        assert ours.scores[name].dtype == theirs.scores[name].dtype
    columns = 0
    for term, theirs_id in theirs.vocab_dict.items():
        ours_id = ours.vocab_dict[term]
        if theirs_id + 1 >= len(theirs.scores["indptr"]):  # the empty term has no column
            assert term == "" and ours_id + 1 >= len(ours.scores["indptr"])
            continue
        a = slice(*ours.scores["indptr"][ours_id : ours_id + 2])
        b = slice(*theirs.scores["indptr"][theirs_id : theirs_id + 2])
        assert ours.scores["indices"][a].tolist() == theirs.scores["indices"][b].tolist(), term
        assert ours.scores["data"][a].tobytes() == theirs.scores["data"][b].tobytes(), term
        columns += 1
    assert columns == len(theirs.vocab_dict) - 1 > 100
    query = built.tokens("Denver Broncos defeated the Carolina Panthers")
    assert np.array_equal(ours.get_scores(query), theirs.get_scores(query))


@pytest.mark.parametrize("size", [0, 1, 7, 96, 500, 20_000, 200_000])
@pytest.mark.parametrize("density", [0.0, 0.001, 0.3, 1.0])
def test_top_rows_are_the_best_positive_scores_ties_by_row(size: int, density: float) -> None:
    """The sampled-threshold top k equals a full sort: score descending, then row, positives only."""
    from qa.storage.bm25_index import _top_rows

    rng = np.random.default_rng(size + int(density * 1000))
    # Few distinct values, so ties cross the k-th place; zeros where a passage lacks every term.
    scores = ((rng.integers(1, 40, size) * (rng.random(size) < density)) / 4).astype(np.float32)
    for k in (1, 10, 50, 1000):
        rows = np.arange(size)
        positive = rows[scores > 0]
        expected = positive[np.lexsort((positive, -scores[positive]))][:k]
        assert _top_rows(scores, k).tolist() == expected.tolist()
