"""BM25 over passages, stored as immutable parts and scored as one collection.

An index is one or more parts (as Lucene's segments): each holds, per term, the rows using it and
their term frequencies, and per row its length. Nothing collection-wide is stored in a part, so a
rebuild can add a small part instead of rewriting all of them; the scorer combines the parts at
query time with collection-wide statistics, as Lucene does: a term's document frequency and the
document count are summed over the parts, the average length is over all their rows, and deleted
rows count in all three (as in Lucene until a merge) but score 0 and are never returned.

Scoring is bm25s's "lucene" method with its defaults (k1 = 1.5, b = 0.75), English stopwords and
Snowball stems: with one part and no deletions the scores are bm25s's to float32 rounding (within
3e-7 relative, the same top passages; checked in tests/test_lexical.py), and any split of the same
passages into parts scores exactly as one part of them all.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from qa.text.terms import default_analyzer

logger = logging.getLogger(__name__)

Ids = npt.NDArray[np.int64]

K1, B = 1.5, 0.75  # bm25s's defaults (method "lucene")

VOCABULARY_FILE = "vocabulary.json"  # {"format": ..., "terms": [term of column 0, 1, ...]}
INDPTR_FILE = "indptr.npy"  # int64, columns + 1: column c's postings are indptr[c]:indptr[c + 1]
ROWS_FILE = "posting_rows.npy"  # int32, per posting its row in the part, ascending in a column
FREQUENCIES_FILE = "posting_frequencies.npy"  # uint16, per posting the term's frequency in its row
LENGTHS_FILE = "row_lengths.npy"  # int32, per row its length in terms (stopwords not counted)
BM25_FILES: tuple[str, ...] = (VOCABULARY_FILE, INDPTR_FILE, ROWS_FILE, FREQUENCIES_FILE, LENGTHS_FILE)
PART_FORMAT = "qa-bm25-part/1"
# A query term's scores are computed per posting (from tf, idf and the row's length), which takes
# about as long as adding them up (~0.2 ms each for 10^5 postings). Those of terms with many
# postings are kept for the next questions, the most recently used, up to CACHE_POSTINGS postings
# (4 bytes each: 32 MiB; the rows are views of the part's arrays).
CACHE_MIN_POSTINGS = 1 << 14
CACHE_POSTINGS = 1 << 23

_Weights = list[tuple[int, npt.NDArray[np.int32], npt.NDArray[np.float32]]]  # (part, rows, scores)


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
        if not len(self.passage_ids):  # an index of no rows
            return np.zeros(np.shape(ids), dtype=np.float32)
        rows = np.searchsorted(self.passage_ids, ids)
        rows = np.minimum(rows, len(self.passage_ids) - 1)
        found = self.passage_ids[rows] == ids
        return np.where(found, self.scores[rows], 0.0).astype(np.float32)


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


class Bm25Part:
    """One part's postings: per term (column) the rows holding it and their term frequency; per
    row its length in terms.

    Term frequencies are uint16: a term used more than 65,535 times in one passage counts 65,535
    times (see qa.storage.lexical.bm25_build). Rows are numbered from 0 within the part.
    """

    def __init__(
        self,
        vocabulary: Mapping[str, int],
        indptr: npt.NDArray[np.int64],
        posting_rows: npt.NDArray[np.int32],
        posting_frequencies: npt.NDArray[np.uint16],
        row_lengths: npt.NDArray[np.int32],
    ) -> None:
        arrays: list[tuple[str, np.ndarray, type[np.generic]]] = [
            ("indptr", indptr, np.int64),
            ("posting rows", posting_rows, np.int32),
            ("posting frequencies", posting_frequencies, np.uint16),
            ("row lengths", row_lengths, np.int32),
        ]
        for name, array, dtype in arrays:
            if array.ndim != 1 or array.dtype != dtype:
                raise ValueError(f"BM25 part: {name} must be a 1-d {np.dtype(dtype)} array")
        postings = int(indptr[-1]) if len(indptr) else -1  # one element: no postings read
        if len(indptr) != len(vocabulary) + 1 or int(indptr[0]) != 0 or postings != len(posting_rows):
            raise ValueError("BM25 part: the vocabulary, indptr and postings do not match")
        if len(posting_frequencies) != len(posting_rows):
            raise ValueError("BM25 part: posting rows and frequencies differ in length")
        self.vocabulary = vocabulary  # term -> column
        self.indptr = indptr
        self.posting_rows = posting_rows
        self.posting_frequencies = posting_frequencies
        self.row_lengths = row_lengths
        # Plain views of the same memory for the query path: np.memmap's slicing is Python code.
        self._indptr = np.asarray(indptr)
        self._rows = np.asarray(posting_rows)
        self._frequencies = np.asarray(posting_frequencies)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Bm25Part:
        """The part of ``texts``, one row each in the order given; ``texts`` may be a generator,
        read once (streamed: qa.storage.lexical.bm25_build)."""
        from qa.storage.lexical.bm25_build import build_postings

        built = build_postings(texts, default_analyzer())
        return cls(built.vocabulary, built.indptr, built.rows, built.frequencies, built.lengths)

    def save(self, folder: Path) -> None:
        """Writes ``BM25_FILES`` into ``folder`` (created if missing; files there are replaced)."""
        folder.mkdir(parents=True, exist_ok=True)
        terms = [""] * len(self.vocabulary)
        for term, column in self.vocabulary.items():
            terms[column] = term
        arrays = {
            INDPTR_FILE: self.indptr,
            ROWS_FILE: self.posting_rows,
            FREQUENCIES_FILE: self.posting_frequencies,
            LENGTHS_FILE: self.row_lengths,
        }
        for name, array in arrays.items():
            with open(folder / name, "wb") as file:
                np.save(file, np.ascontiguousarray(array), allow_pickle=False)
        with open(folder / VOCABULARY_FILE, "w", encoding="ascii") as file:
            # ASCII with escapes: any string round-trips, even one a UTF-8 encoder would refuse.
            json.dump({"format": PART_FORMAT, "terms": terms}, file, separators=(",", ":"))

    @classmethod
    def load(cls, folder: Path) -> Bm25Part:
        """The part saved in ``folder``, its arrays memory-mapped read-only: opening reads no
        postings; a question pages in only its terms' columns, and every process serving the
        index shares the pages. OSError when a file is missing or unreadable, ValueError when
        one is not what ``save`` writes."""
        with open(folder / VOCABULARY_FILE, encoding="ascii") as file:
            saved = json.load(file)
        if not isinstance(saved, dict) or saved.get("format") != PART_FORMAT:
            raise ValueError(f"{folder / VOCABULARY_FILE}: not a BM25 part of format {PART_FORMAT}")
        terms = saved.get("terms")
        if not isinstance(terms, list):
            raise ValueError(f"{folder / VOCABULARY_FILE}: no list of terms")
        vocabulary = dict(zip(terms, range(len(terms)), strict=True))
        if len(vocabulary) != len(terms):
            raise ValueError(f"{folder / VOCABULARY_FILE}: a term is listed twice")

        def mapped(name: str) -> np.ndarray:
            return np.load(folder / name, mmap_mode="r", allow_pickle=False)

        return cls(
            vocabulary, mapped(INDPTR_FILE), mapped(ROWS_FILE), mapped(FREQUENCIES_FILE), mapped(LENGTHS_FILE)
        )

    @property
    def rows(self) -> int:
        return len(self.row_lengths)

    def span(self, term: str) -> tuple[int, int]:
        """The (start, end) of ``term``'s postings; (0, 0) when the part lacks it."""
        column = self.vocabulary.get(term)
        if column is None:
            return 0, 0
        return int(self._indptr[column]), int(self._indptr[column + 1])

    def postings(self, start: int, end: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
        """The rows and term frequencies of postings ``start:end`` (views, nothing copied)."""
        return self._rows[start:end], self._frequencies[start:end]


class Bm25Index:
    """BM25 over the rows of one or more parts; row ``i`` of the concatenated parts is passage
    ``passage_ids[i]``, ascending."""

    def __init__(
        self, parts: Sequence[Bm25Part], passage_ids: Sequence[Ids], deleted: Ids | None = None
    ) -> None:
        """``passage_ids[i]``: the ids of part ``i``'s rows, in row order, strictly ascending, and
        all below part ``i + 1``'s. ``deleted``: passage ids (any order) never to return, scored
        0; they still count in document frequencies, the document count and the average length
        (as in Lucene). Ids no part holds are ignored. ValueError on ids that do not fit."""
        self._parts = tuple(parts)
        if len(passage_ids) != len(self._parts):
            raise ValueError(f"BM25: {len(passage_ids)} lists of passage ids for {len(self._parts)} parts")
        arrays = [_ids(ids, "passage ids") for ids in passage_ids]
        for part, ids in zip(self._parts, arrays, strict=True):
            if len(ids) != part.rows:
                raise ValueError(f"BM25: {len(ids)} passage ids for a part of {part.rows} rows")
        self._passage_ids: Ids = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
        if len(self._passage_ids) > 1 and np.any(np.diff(self._passage_ids) <= 0):
            raise ValueError("BM25 passage ids must be strictly ascending, within and across parts")
        self._starts = [0, *np.cumsum([part.rows for part in self._parts]).tolist()]
        self._documents = len(self._passage_ids)
        # Per row, BM25's length normaliser k1 * (1 - b + b * length / average), as bm25s computes
        # it (float64), rounded to float32: the scores are then computed in float32, in about
        # half float64's time at 10^6 passages, and stay within 3e-7 of bm25s's (tests: 1e-6).
        lengths = (
            np.concatenate([np.asarray(part.row_lengths, dtype=np.int64) for part in self._parts])
            if self._parts
            else np.zeros(0, dtype=np.int64)
        )
        average = lengths.mean() if len(lengths) else 0.0  # float64, as bm25s has it
        normaliser = (K1 * ((1 - B) + B * lengths / (average or 1.0))).astype(np.float32)  # 0 rows: 1
        self._normalisers = [normaliser[s:e] for s, e in itertools.pairwise(self._starts)]
        gone = _ids(np.zeros(0, dtype=np.int64) if deleted is None else deleted, "deleted ids")
        rows = np.searchsorted(self._passage_ids, gone)
        held = rows < self._documents
        held[held] = self._passage_ids[rows[held]] == gone[held]
        self._deleted_rows = np.unique(rows[held])
        # Term -> its scores, for terms of many postings (CACHE_MIN_POSTINGS), least recently
        # used first: common words recur across questions.
        self._cache: OrderedDict[str, _Weights] = OrderedDict()
        self._cached = 0  # postings in the cache
        self._lock = threading.Lock()

    @classmethod
    def build(cls, texts: Iterable[str], passage_ids: Ids) -> Bm25Index:
        """One in-memory part of ``texts``, the passages ``passage_ids``, streamed: texts may be
        a generator, read once. Ids in any order: the texts are put in ascending id order."""
        passage_ids = _ids(passage_ids, "passage ids")
        if len(passage_ids) > 1 and np.any(np.diff(passage_ids) <= 0):
            # Rows must follow ascending ids: put the texts in that order (they are in memory).
            order = np.argsort(passage_ids, kind="stable")
            listed = list(texts)
            texts, passage_ids = (listed[i] for i in order), passage_ids[order]
        return cls([Bm25Part.from_texts(texts)], [passage_ids])

    @classmethod
    def open(
        cls, folders: Sequence[Path], passage_ids: Sequence[Ids], deleted: Ids | None = None
    ) -> Bm25Index:
        """The parts saved in ``folders`` (``Bm25Part.load``), memory-mapped; as ``__init__``."""
        return cls([Bm25Part.load(folder) for folder in folders], passage_ids, deleted)

    @property
    def parts(self) -> tuple[Bm25Part, ...]:
        return self._parts

    @property
    def passage_ids(self) -> Ids:
        """Every row's passage id, ascending, deleted ones included (they score 0)."""
        return self._passage_ids

    def __len__(self) -> int:
        """Rows not deleted."""
        return self._documents - len(self._deleted_rows)

    def tokens(self, text: str) -> list[str]:
        """BM25 query tokens: exactly what ``bm25s.tokenize`` makes of the indexed text."""
        return default_analyzer().terms(text)

    def match(self, text: str) -> Bm25Matches:
        """Scores of every row (float32), deleted rows 0: per query term (a repeated one as
        often as it is repeated, as bm25s does), idf times the tf component of each posting,
        added to its row's score in float32 in query order (np.add.at, as bm25s sums)."""
        scores = np.zeros(self._documents, dtype=np.float32)
        segments = [scores[s:e] for s, e in itertools.pairwise(self._starts)]
        weights: dict[str, _Weights] = {}
        for term in self.tokens(text):
            if term not in weights:
                weights[term] = self._weights(term)
            for part, rows, values in weights[term]:
                np.add.at(segments[part], rows, values)
        if len(self._deleted_rows):
            scores[self._deleted_rows] = 0.0
        return Bm25Matches(scores, self._passage_ids, self.coverage(text))

    def _weights(self, term: str) -> _Weights:
        """(part, rows, score of ``term`` in each row) of each part holding ``term``."""
        with self._lock:
            cached = self._cache.get(term)
            if cached is not None:
                self._cache.move_to_end(term)
                return cached
        spans = [(i, *part.span(term)) for i, part in enumerate(self._parts)]
        df = sum(end - start for _, start, end in spans)
        if not df:
            return []
        idf = np.float32(self._idf(df))  # float32, as bm25s stores it
        weights = []
        for i, start, end in spans:
            if end > start:
                rows, frequencies = self._parts[i].postings(start, end)
                # tf / (normaliser + tf) * idf, in place (fresh arrays cost page faults).
                tf = frequencies.astype(np.float32)  # once: float32 loops run faster than mixed
                values = self._normalisers[i].take(rows)
                values += tf
                np.divide(tf, values, out=values)
                values *= idf
                weights.append((i, rows, values))
        if df >= CACHE_MIN_POSTINGS:
            with self._lock:
                if term not in self._cache:
                    self._cache[term] = weights
                    self._cached += df
                while self._cached > CACHE_POSTINGS:
                    _, dropped = self._cache.popitem(last=False)
                    self._cached -= sum(len(rows) for _, rows, _ in dropped)
        return weights

    def _idf(self, df: int) -> float:
        """Lucene's idf, in Python floats as bm25s computes it."""
        return math.log(1 + (self._documents - df + 0.5) / (df + 0.5))

    def coverage(self, text: str) -> float:
        """The idf-weighted share of ``text``'s content words that occur in the index.

        A word no passage uses weighs like the rarest known word, so a question whose names
        the articles never mention scores low even when its common words are known.
        """
        content = default_analyzer().content_terms(text)
        if not content:
            return 1.0
        known = total = 0.0
        for term in content:
            df = sum(end - start for start, end in (part.span(term) for part in self._parts))
            weight = self._idf(df)
            total += weight
            known += weight if df else 0.0
        return known / total if total else 1.0


def _ids(ids: object, what: str) -> Ids:
    """``ids`` as a 1-d int64 array; ValueError if they are not integers."""
    array = np.asarray(ids)
    if array.ndim != 1 or (len(array) and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"BM25: {what} must be a 1-d array of integers")
    return array.astype(np.int64, copy=False)
