"""Building the BM25 index a chunk of passages at a time, in bm25s's own format.

``bm25s.BM25.index`` wants every document's tokens as Python lists at once and then builds its
sparse matrix from whole-corpus arrays: at 10^5 passages it added ~300 MiB to the build's peak,
~3 GB projected at 10^6. Here the passages' terms become one int32 array (4 bytes a token), and
the scores are computed and placed into the column-major (CSC) arrays a chunk of documents at a
time. The result is a ``bm25s.BM25`` with the same vocabulary, scores (Lucene's BM25, bm25s's
defaults) and files, so loading and querying go through bm25s unchanged (checked against
``bm25s.BM25.index`` in tests/test_lexical.py).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.terms import TOKEN, Analyzer, lucene_stopwords

K1, B = 1.5, 0.75  # bm25s's defaults (method "lucene")
CHUNK_DOCUMENTS = 5_000  # a chunk's sorting arrays stay ~40 MB
_STOPWORD, _UNSEEN = -1, -2


def build_bm25(texts: Iterable[str], analyzer: Analyzer) -> Any:
    """A ``bm25s.BM25`` over ``texts`` (one document each, in the index's row order)."""
    import bm25s

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
    data, indices, indptr = _csc_scores(token_ids, lengths_array, len(vocabulary))
    vocabulary.setdefault("", len(vocabulary))  # bm25s's "empty" term, added after its columns
    retriever = bm25s.BM25(k1=K1, b=B)
    retriever.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": len(lengths)}
    retriever.vocab_dict = vocabulary
    retriever.nonoccurrence_array = None  # only BM25L and BM25+ have one
    retriever.unique_token_ids_set = set(vocabulary.values())
    return retriever


def _chunks(lengths: npt.NDArray[np.int32]) -> Iterable[tuple[int, int, int, int]]:
    """(first document, end document, first token, end token) of each chunk of documents."""
    ends = np.cumsum(lengths, dtype=np.int64)
    for first in range(0, len(lengths), CHUNK_DOCUMENTS):
        end = min(first + CHUNK_DOCUMENTS, len(lengths))
        yield first, end, int(ends[first - 1]) if first else 0, int(ends[end - 1]) if end else 0


def _postings(
    token_ids: npt.NDArray[np.int32], lengths: npt.NDArray[np.int32], vocabulary: int, first: int, end: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """(document, term, term frequency) of each distinct term of each document in the chunk,
    ordered by document, then term."""
    documents = np.repeat(np.arange(first, end, dtype=np.int64), lengths[first:end])
    keys, counts = np.unique(documents * vocabulary + token_ids, return_counts=True)
    documents, terms = np.divmod(keys, vocabulary)
    return documents.astype(np.int32), terms.astype(np.int32), counts.astype(np.float32)


def _csc_scores(
    token_ids: npt.NDArray[np.int32], lengths: npt.NDArray[np.int32], vocabulary: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """bm25s's (data, indices, indptr): per term, the documents holding it and their scores."""
    documents = len(lengths)
    average = np.array(lengths, dtype=np.int64).mean() if documents else 1.0  # float64, as bm25s has it
    # First pass: documents per term (postings per column), for the idf and the column starts.
    frequency = np.zeros(vocabulary, dtype=np.int64)
    for first, end, start, stop in _chunks(lengths):
        _, terms, _ = _postings(token_ids[start:stop], lengths, vocabulary, first, end)
        frequency += np.bincount(terms, minlength=vocabulary)
    idf = np.zeros(vocabulary, dtype=np.float32)
    for term in np.flatnonzero(frequency):  # Lucene's idf, computed in Python floats as bm25s does
        df = int(frequency[term])
        idf[term] = math.log(1 + (documents - df + 0.5) / (df + 0.5))
    indptr = np.zeros(vocabulary + 1, dtype=np.int64)
    np.cumsum(frequency, out=indptr[1:])
    data = np.empty(int(indptr[-1]), dtype=np.float32)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    # Second pass: each chunk's scores go to the next free slots of their terms' columns;
    # chunks come in document order, so every column stays sorted by document.
    free = indptr[:-1].copy()
    for first, end, start, stop in _chunks(lengths):
        docs, terms, tf = _postings(token_ids[start:stop], lengths, vocabulary, first, end)
        length = lengths[docs].astype(np.float64)
        tfc = tf / (K1 * ((1 - B) + B * length / average) + tf)
        scores = (idf[terms] * tfc).astype(np.float32)
        order = np.argsort(terms, kind="stable")
        terms, docs, scores = terms[order], docs[order], scores[order]
        starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]])
        rank = np.arange(len(terms)) - np.repeat(starts, np.diff(np.r_[starts, len(terms)]))
        slots = free[terms] + rank
        data[slots], indices[slots] = scores, docs
        free[terms[starts]] += np.diff(np.r_[starts, len(terms)])  # each term once per chunk
    return data, indices, indptr
