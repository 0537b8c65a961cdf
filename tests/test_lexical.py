from __future__ import annotations

import itertools
import math
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import bm25s
import numpy as np
import pytest

from qa.ingest import read_corpus
from qa.storage.lexical.bm25_index import BM25_FILES, Bm25Index, Bm25Part
from qa.text.terms import default_analyzer, question_stopwords
from tests.conftest import EXAMPLES

QUERY = "Denver Broncos defeated the Carolina Panthers"
QUERIES = [
    QUERY,
    "Who was the Broncos quarterback, and what did the Broncos coach say?",  # a repeated term
    "Super Bowl halftime show Coldplay Beyonce",
    "Levi's Stadium Santa Clara California zzzz",  # an unknown word among known ones
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    corpus = read_corpus(EXAMPLES / "wikipedia" / "super-bowl-50.txt")
    article = corpus.articles[0]
    return [p.text_of(article) for p in article.paragraphs] + ["Don't re-use U.S.-based 4,000 café naïve"]


def _bm25s(corpus: list[str]) -> bm25s.BM25:
    """bm25s's own index of ``corpus`` (method "lucene", k1 1.5, b 0.75: its defaults)."""
    reference = bm25s.BM25()
    reference.index(
        bm25s.tokenize(corpus, stopwords="en", stemmer=default_analyzer().stemmer, show_progress=False),
        show_progress=False,
    )
    return reference


def _bm25s_scores(reference: bm25s.BM25, index: Bm25Index, query: str, rows: int) -> np.ndarray:
    tokens = [t for t in index.tokens(query) if t in reference.vocab_dict]
    return reference.get_scores(tokens) if tokens else np.zeros(rows, dtype=np.float32)


def _split(texts: list[str], ids: np.ndarray, cuts: list[int]) -> Bm25Index:
    """An index of ``texts`` in parts cut at ``cuts``."""
    bounds = [0, *cuts, len(texts)]
    spans = list(itertools.pairwise(bounds))
    return Bm25Index([Bm25Part.from_texts(texts[a:b]) for a, b in spans], [ids[a:b] for a, b in spans])


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
    assert len(index) == len(texts) and index.passage_ids.tolist() == ids.tolist()
    match = index.match(QUERY)
    found = match.top(5)
    scores = match.scores_of(found)
    assert list(scores) == sorted(scores, reverse=True) and len(found) == 5
    reference = _bm25s(texts)
    for query in QUERIES:
        theirs = _bm25s_scores(reference, index, query, len(texts))
        ours = index.match(query)
        assert ours.scores.dtype == np.float32
        assert np.allclose(ours.scores, theirs, rtol=1e-6, atol=0), query
        order = np.lexsort((ids, -theirs))
        expected = ids[order][theirs[order] > 0][:10]
        assert ours.top(10).tolist() == expected.tolist(), query
        assert ours.best == pytest.approx(float(theirs.max()), rel=1e-6)
    assert match.scores_of(np.array([5, 99999], dtype=np.int64)).tolist() == [0.0, 0.0]  # not held


@pytest.mark.parametrize("query", ["zzzz qqqq", "the of and", ""])
def test_unknown_and_stopword_queries_score_nothing(texts: list[str], query: str) -> None:
    index = Bm25Index.build(texts, np.arange(len(texts), dtype=np.int64))
    match = index.match(query)
    assert not match.scores.any() and match.best == 0.0
    assert match.top(5).size == 0  # nothing, no error


def test_ids_out_of_order_are_sorted_with_their_texts() -> None:
    index = Bm25Index.build(["apples and pears", "boats on rivers"], np.array([9, 3], dtype=np.int64))
    assert index.passage_ids.tolist() == [3, 9]
    assert index.match("boats").top(2).tolist() == [3]
    assert index.match("pears").top(2).tolist() == [9]


def test_a_saved_part_opens_memory_mapped_and_scores_the_same(texts: list[str], tmp_path: Path) -> None:
    ids = np.arange(7, 7 + len(texts), dtype=np.int64)
    built = Bm25Index.build(texts, ids)
    built.parts[0].save(tmp_path / "part")
    assert sorted(p.name for p in (tmp_path / "part").iterdir()) == sorted(BM25_FILES)
    loaded = Bm25Index.open([tmp_path / "part"], [ids])
    # Opening reads no postings: they stay on disk until a question needs them.
    part = loaded.parts[0]
    for array in (part.indptr, part.posting_rows, part.posting_frequencies, part.row_lengths):
        assert isinstance(array, np.memmap) and not array.flags.writeable
    assert part.posting_rows.dtype == np.int32 and part.posting_frequencies.dtype == np.uint16
    assert part.rows == len(texts)
    for query in QUERIES:
        assert np.array_equal(loaded.match(query).scores, built.match(query).scores)
        assert loaded.match(query).top(5).tolist() == built.match(query).top(5).tolist()
    assert loaded.coverage("Broncos zzzz") == built.coverage("Broncos zzzz")


def test_a_damaged_part_does_not_open(texts: list[str], tmp_path: Path) -> None:
    Bm25Part.from_texts(texts[:5]).save(tmp_path / "part")
    (tmp_path / "part" / BM25_FILES[-1]).unlink()
    with pytest.raises(OSError):
        Bm25Part.load(tmp_path / "part")
    with pytest.raises(OSError):
        Bm25Part.load(tmp_path / "missing")
    Bm25Part.from_texts(texts[:5]).save(tmp_path / "other")
    (tmp_path / "other" / "vocabulary.json").write_text('{"format": "qa-bm25-part/1", "terms": ["a"]}')
    with pytest.raises(ValueError, match="do not match"):
        Bm25Part.load(tmp_path / "other")
    (tmp_path / "other" / "vocabulary.json").write_text("{}")
    with pytest.raises(ValueError, match="format"):
        Bm25Part.load(tmp_path / "other")


@pytest.mark.parametrize("cuts", [[20], [1, 40], [10, 11, 30]])
def test_parts_score_as_one_index_of_all_their_rows(
    texts: list[str], cuts: list[int], tmp_path: Path
) -> None:
    """The property parts rest on: collection statistics summed over parts give one index's scores."""
    corpus = [*texts, "", "the and of", texts[3]]  # empty, stopword-only and duplicate rows
    ids = np.arange(len(corpus), dtype=np.int64) * 3 + 5
    whole = Bm25Index.build(corpus, ids)
    parts = _split(corpus, ids, cuts)
    assert len(parts.parts) == len(cuts) + 1 and len(parts) == len(whole) == len(corpus)
    assert parts.passage_ids.tolist() == ids.tolist()
    for folder, part in enumerate(parts.parts):
        part.save(tmp_path / str(folder))
    bounds = [0, *cuts, len(corpus)]
    opened = Bm25Index.open(
        [tmp_path / str(i) for i in range(len(parts.parts))],
        [ids[a:b] for a, b in itertools.pairwise(bounds)],
    )
    for query in QUERIES:
        expected = whole.match(query)
        for index in (parts, opened):
            match = index.match(query)
            assert np.allclose(match.scores, expected.scores, rtol=1e-6, atol=0), query
            assert match.top(10).tolist() == expected.top(10).tolist(), query
            assert match.coverage == expected.coverage


def test_coverage_sums_document_frequencies_over_parts(texts: list[str]) -> None:
    ids = np.arange(len(texts), dtype=np.int64)
    whole = Bm25Index.build(texts, ids)
    parts = _split(texts, ids, [10, 30])
    query = "Broncos Coldplay zzzz"
    analyzer = default_analyzer()
    documents = [set(analyzer.terms(t)) for t in texts]
    weights = {}
    for term in analyzer.content_terms(query):
        df = sum(term in d for d in documents)
        weights[term] = (math.log(1 + (len(texts) - df + 0.5) / (df + 0.5)), df)
    expected = sum(w for w, df in weights.values() if df) / sum(w for w, _ in weights.values())
    assert 0 < expected < 1
    assert parts.coverage(query) == pytest.approx(expected) == whole.coverage(query)
    # A word only the last part holds is known to the index.
    late = next(t for t in analyzer.terms(texts[-1]) if not any(t in d for d in documents[:30]))
    assert parts.coverage(late) == 1.0 and parts.coverage("zzzz") == 0.0


def test_deleted_passages_score_nothing_but_count_in_idf(texts: list[str]) -> None:
    ids = np.arange(len(texts), dtype=np.int64) * 2
    plain = _split(texts, ids, [25])
    top = plain.match(QUERY).top(6)
    deleted = np.array([top[0], top[3], ids[-1], 999_999], dtype=np.int64)  # 999,999: not held, ignored
    index = Bm25Index(plain.parts, [ids[:25], ids[25:]], deleted=deleted[::-1].copy())
    assert len(index) == len(texts) - 3 and len(index.passage_ids) == len(texts)
    for query in QUERIES:
        match, before = index.match(query), plain.match(query)
        assert not set(match.top(len(texts)).tolist()) & set(deleted.tolist())
        assert match.scores_of(deleted).tolist() == [0.0] * 4
        # The others score as with the deleted rows present: those still count in df, N and
        # the average length, as in Lucene until a merge.
        live = ~np.isin(ids, deleted)
        assert np.array_equal(match.scores_of(ids[live]), before.scores_of(ids[live]))
        assert match.coverage == before.coverage
    assert index.match(QUERY).top(4).tolist() == [t for t in top if t not in deleted][:4]


def test_cached_term_scores_give_the_same_matches(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Common terms' scores are kept between questions (least recently used dropped first)."""
    from qa.storage.lexical import bm25_index

    ids = np.arange(len(texts), dtype=np.int64)
    fresh = {query: Bm25Index.build(texts, ids).match(query).scores for query in QUERIES}
    monkeypatch.setattr(bm25_index, "CACHE_MIN_POSTINGS", 1)
    monkeypatch.setattr(bm25_index, "CACHE_POSTINGS", 60)  # a few terms: evictions
    index = _split(texts, ids, [30])
    for query in QUERIES * 3:
        assert np.array_equal(index.match(query).scores, fresh[query]), query
    assert 0 < index._cached <= 60 and index._cache


def test_bad_passage_ids_are_refused(texts: list[str]) -> None:
    a, b = Bm25Part.from_texts(texts[:3]), Bm25Part.from_texts(texts[3:5])
    with pytest.raises(ValueError, match="ascending"):
        Bm25Index([a, b], [np.array([1, 2, 3]), np.array([3, 4])])  # part 2 does not follow part 1
    with pytest.raises(ValueError, match="ascending"):
        Bm25Index([a], [np.array([1, 3, 2])])
    with pytest.raises(ValueError, match="rows"):
        Bm25Index([a], [np.array([1, 2])])
    with pytest.raises(ValueError, match="parts"):
        Bm25Index([a, b], [np.array([1, 2, 3])])
    with pytest.raises(ValueError, match="integers"):
        Bm25Index([a], [np.array([1, 2, 3])], deleted=np.array([1.5]))


def test_an_index_of_no_rows_works(tmp_path: Path) -> None:
    for index in (
        Bm25Index.build([], np.zeros(0, dtype=np.int64)),
        Bm25Index([], []),
        Bm25Index.build(["the and of", ""], np.array([1, 2])),  # rows, but no terms
    ):
        match = index.match(QUERY)
        assert not match.scores.any() and match.best == 0.0 and match.top(5).size == 0
        assert match.scores_of(np.array([1], dtype=np.int64)).tolist() == [0.0]
        assert index.coverage("Broncos") == 0.0
    Bm25Part.from_texts(iter([])).save(tmp_path / "empty")
    empty = Bm25Index.open([tmp_path / "empty"], [np.zeros(0, dtype=np.int64)])
    assert len(empty) == 0 and empty.match(QUERY).top(3).size == 0


def test_the_streamed_build_holds_what_bm25s_indexes(
    texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same vocabulary, and per term the same documents (ascending) with their term frequencies,
    across chunk boundaries (a tiny chunk), empty and stopword-only documents included."""
    from qa.storage.lexical import bm25_build

    monkeypatch.setattr(bm25_build, "CHUNK_DOCUMENTS", 3)
    corpus = [*texts, "", "the and of", texts[0], "one word repeated: word word word"]
    part = Bm25Part.from_texts(iter(corpus))  # read once
    theirs = _bm25s(corpus)
    assert part.vocabulary.keys() == theirs.vocab_dict.keys() - {""}
    assert part.rows == theirs.scores["num_docs"] == len(corpus)
    analyzer = default_analyzer()
    counts = [Counter(analyzer.terms(t)) for t in corpus]
    assert part.row_lengths.tolist() == [sum(c.values()) for c in counts]
    for term, column in part.vocabulary.items():
        span = slice(*part.indptr[column : column + 2])
        rows = part.posting_rows[span].tolist()
        theirs_id = theirs.vocab_dict[term]
        assert (
            rows
            == theirs.scores["indices"][slice(*theirs.scores["indptr"][theirs_id : theirs_id + 2])].tolist()
        )
        assert part.posting_frequencies[span].tolist() == [counts[r][term] for r in rows], term
    assert len(part.vocabulary) > 100 and part.posting_frequencies.max() >= 4


def test_term_frequencies_are_clipped_at_the_uint16_limit() -> None:
    part = Bm25Part.from_texts(["word " * 70_000 + "other", "other text"])
    span = slice(*part.indptr[part.vocabulary["word"] : part.vocabulary["word"] + 2])
    assert part.posting_frequencies[span].tolist() == [65_535]
    assert part.row_lengths.tolist() == [70_001, 2]  # the length counts every occurrence


def test_the_streamed_build_keeps_a_few_bytes_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The build holds the texts' terms as one int32 array and sorts a chunk at a time: no
    Python object per token, nor whole-corpus sorting arrays (bm25s.BM25.index held both)."""
    from qa.storage.lexical import bm25_build

    monkeypatch.setattr(bm25_build, "CHUNK_DOCUMENTS", 500)
    rng = np.random.default_rng(0)
    words = [f"w{i}x" for i in range(2_000)]
    rows, per_row = 10_000, 40
    picks = np.minimum(rng.zipf(1.3, size=(rows, per_row)), len(words)) - 1

    def generate() -> Iterator[str]:
        for row in picks:
            yield " ".join(words[i] for i in row)

    default_analyzer()  # the stemmer and stopwords load outside the measurement
    Bm25Part.from_texts(["w1x"])
    tracemalloc.start()
    try:
        part = Bm25Part.from_texts(generate())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    tokens = rows * per_row
    assert part.row_lengths.sum() == tokens
    assert peak < 20 * tokens, peak / tokens  # measured ~12; bm25s.BM25.index: ~30


@pytest.mark.parametrize("size", [0, 1, 7, 96, 500, 20_000, 200_000])
@pytest.mark.parametrize("density", [0.0, 0.001, 0.3, 1.0])
def test_top_rows_are_the_best_positive_scores_ties_by_row(size: int, density: float) -> None:
    """The sampled-threshold top k equals a full sort: score descending, then row, positives only."""
    from qa.storage.lexical.bm25_index import _top_rows

    rng = np.random.default_rng(size + int(density * 1000))
    # Few distinct values, so ties cross the k-th place; zeros where a passage lacks every term.
    scores = ((rng.integers(1, 40, size) * (rng.random(size) < density)) / 4).astype(np.float32)
    for k in (1, 10, 50, 1000):
        rows = np.arange(size)
        positive = rows[scores > 0]
        expected = positive[np.lexsort((positive, -scores[positive]))][:k]
        assert _top_rows(scores, k).tolist() == expected.tolist()
