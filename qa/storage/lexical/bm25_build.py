"""Building one BM25 part's postings a chunk of passages at a time.

``bm25s.BM25.index`` wants every document's tokens as Python lists at once and then builds its
sparse matrix from whole-corpus arrays: at 10^5 passages it added ~300 MiB to the build's peak,
~3 GB projected at 10^6. Here the passages' terms become one int32 array (4 bytes a token), and
the postings (row, term frequency) are placed into column-major (CSC) arrays a chunk of documents
at a time. No scores are stored: idf and the average length depend on every part of the index,
so ``qa.storage.lexical.bm25_index`` combines them at query time (checked against bm25s in
tests/test_lexical.py).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qa.text.terms import TOKEN, Analyzer, lucene_stopwords

CHUNK_DOCUMENTS = 5_000  # a chunk's sorting arrays stay ~40 MB
# Term frequencies are stored as uint16: a term occurring more than 65,535 times in one passage
# counts 65,535 times (its document length still counts every occurrence). BM25's tf component
# tf / (k + tf) is within 1e-4 of its limit there, so no ranking changes in practice.
MAX_FREQUENCY = np.iinfo(np.uint16).max
_STOPWORD, _UNSEEN = -1, -2


@dataclass(frozen=True)
class Postings:
    """Per term (column ``c``: ``indptr[c]:indptr[c + 1]``) the rows holding it, ascending, and
    its frequency in each; per row its length in terms (stopwords not counted)."""

    vocabulary: dict[str, int]  # stemmed term -> column
    indptr: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int32]
    frequencies: npt.NDArray[np.uint16]
    lengths: npt.NDArray[np.int32]


def build_postings(texts: Iterable[str], analyzer: Analyzer) -> Postings:
    """The postings of ``texts`` (one document each, in row order), read once."""
    vocabulary, token_ids, lengths = _tokenise(texts, analyzer)
    indptr, rows, frequencies = _csc_postings(token_ids, lengths, len(vocabulary))
    return Postings(vocabulary, indptr, rows, frequencies, lengths)


def _tokenise(
    texts: Iterable[str], analyzer: Analyzer
) -> tuple[dict[str, int], npt.NDArray[np.int32], npt.NDArray[np.int32]]:
    """(vocabulary, every document's term columns concatenated, each document's length)."""
    vocabulary: dict[str, int] = {}  # stemmed term -> column
    columns: dict[str, int] = dict.fromkeys(lucene_stopwords(), _STOPWORD)  # word as written -> column
    stem = analyzer.stemmer.stemWord
    tokens = array("i")
    lengths = array("i")
    for text in texts:
        # The terms of Analyzer.terms (the query side), but each distinct word is stemmed once
        # per build instead of once per occurrence: a dictionary lookup per word.
        words = TOKEN.findall(text.lower())
        ids = [columns.get(word, _UNSEEN) for word in words]
        if _UNSEEN in ids:
            for word, column in zip(words, ids, strict=True):
                if column == _UNSEEN and word not in columns:
                    columns[word] = vocabulary.setdefault(stem(word), len(vocabulary))
            ids = [columns[word] for word in words]
        ids = [column for column in ids if column >= 0]
        tokens.extend(ids)
        lengths.append(len(ids))
    token_ids = np.frombuffer(tokens, dtype=np.int32) if tokens else np.zeros(0, np.int32)
    lengths_array = np.frombuffer(lengths, dtype=np.int32) if lengths else np.zeros(0, np.int32)
    return vocabulary, token_ids, lengths_array


def _chunks(lengths: npt.NDArray[np.int32]) -> Iterable[tuple[int, int, int, int]]:
    """(first document, end document, first token, end token) of each chunk of documents."""
    ends = np.cumsum(lengths, dtype=np.int64)
    for first in range(0, len(lengths), CHUNK_DOCUMENTS):
        end = min(first + CHUNK_DOCUMENTS, len(lengths))
        yield first, end, int(ends[first - 1]) if first else 0, int(ends[end - 1]) if end else 0


def _postings(
    token_ids: npt.NDArray[np.int32], lengths: npt.NDArray[np.int32], vocabulary: int, first: int, end: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
    """(document, term, term frequency) of each distinct term of each document in the chunk,
    ordered by document, then term."""
    documents = np.repeat(np.arange(first, end, dtype=np.int64), lengths[first:end])
    keys, counts = np.unique(documents * max(vocabulary, 1) + token_ids, return_counts=True)
    documents, terms = np.divmod(keys, max(vocabulary, 1))
    frequencies = np.minimum(counts, MAX_FREQUENCY).astype(np.uint16)
    return documents.astype(np.int32), terms.astype(np.int32), frequencies


def _csc_postings(
    token_ids: npt.NDArray[np.int32], lengths: npt.NDArray[np.int32], vocabulary: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.uint16]]:
    """(indptr, rows, frequencies): per term, the documents holding it and how often."""
    # First pass: documents per term (postings per column), for the column starts.
    frequency = np.zeros(vocabulary, dtype=np.int64)
    for first, end, start, stop in _chunks(lengths):
        _, terms, _ = _postings(token_ids[start:stop], lengths, vocabulary, first, end)
        frequency += np.bincount(terms, minlength=vocabulary)
    indptr = np.zeros(vocabulary + 1, dtype=np.int64)
    np.cumsum(frequency, out=indptr[1:])
    rows = np.empty(int(indptr[-1]), dtype=np.int32)
    frequencies = np.empty(int(indptr[-1]), dtype=np.uint16)
    # Second pass: each chunk's postings go to the next free slots of their terms' columns;
    # chunks come in document order, so every column stays sorted by document.
    free = indptr[:-1].copy()
    for first, end, start, stop in _chunks(lengths):
        docs, terms, tf = _postings(token_ids[start:stop], lengths, vocabulary, first, end)
        order = np.argsort(terms, kind="stable")
        terms, docs, tf = terms[order], docs[order], tf[order]
        starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]]) if len(terms) else terms
        counts = np.diff(np.r_[starts, len(terms)])
        rank = np.arange(len(terms)) - np.repeat(starts, counts)
        slots = free[terms] + rank
        rows[slots], frequencies[slots] = docs, tf
        free[terms[starts]] += counts  # each term once per chunk
    return indptr, rows, frequencies
