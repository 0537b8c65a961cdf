"""Hybrid retrieval: dense (FAISS) and BM25 candidates, fused into one passage ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qa.embed import Vectors
from qa.lexical import LexicalIndex
from qa.vectors import VectorIndex

# Weight of the dense cosine in the fused score; the rest goes to BM25 scaled by the best BM25
# score among the candidates. Measured on SQuAD dev (docs/BENCHMARKS.md): 0.6 beats 0.5 and 0.7.
DENSE_WEIGHT = 0.6
CANDIDATES = 50
# A follow-up's scores blend the question alone with the question read in its conversation.
CONTEXT_WEIGHT = 0.5


@dataclass(frozen=True)
class Candidate:
    passage_id: int
    score: float  # fused
    dense: float  # cosine similarity of query and passage
    lexical: float  # BM25 divided by the best BM25 among candidates


@dataclass(frozen=True)
class _Scores:
    dense: npt.NDArray[np.float32]
    lexical: npt.NDArray[np.float32]

    def fused(self, dense_weight: float) -> npt.NDArray[np.float32]:
        return dense_weight * self.dense + (1 - dense_weight) * self.lexical


def _score(
    ids: npt.NDArray[np.int64], matrix: Vectors, lexical: LexicalIndex, text: str, vector: Vectors, pool: int
) -> _Scores:
    bm25_scores, bm25_ids = lexical.search(text, max(pool, len(ids)))
    best = float(bm25_scores.max()) if len(bm25_scores) else 0.0
    bm25 = {int(i): float(s) / best for i, s in zip(bm25_ids, bm25_scores, strict=True)} if best else {}
    return _Scores(
        dense=matrix @ vector.reshape(-1),
        lexical=np.array([bm25.get(int(i), 0.0) for i in ids], dtype=np.float32),
    )


def retrieve(
    vectors: VectorIndex,
    lexical: LexicalIndex,
    query_text: str,
    query_vector: Vectors,
    *,
    pool: int = CANDIDATES,
    dense_weight: float = DENSE_WEIGHT,
    context_text: str | None = None,
    context_vector: Vectors | None = None,
) -> list[Candidate]:
    """Candidates best first.

    ``context_text``/``context_vector`` are a follow-up question read together with the
    conversation before it: they add candidates and blend into every score.
    """
    queries = [(query_text, query_vector)]
    if context_text is not None and context_vector is not None:
        queries.append((context_text, context_vector))
    ids_found: set[int] = set()
    for text, vector in queries:
        _, dense_ids = vectors.search(vector.reshape(1, -1), pool)
        ids_found.update(int(i) for i in dense_ids[0] if i >= 0)
        ids_found.update(int(i) for i in lexical.search(text, pool)[1])
    ids = np.array(sorted(ids_found), dtype=np.int64)
    matrix = vectors.vectors_for(ids)
    scores = [_score(ids, matrix, lexical, text, vector, pool) for text, vector in queries]
    if len(scores) == 1:
        dense, lex = scores[0].dense, scores[0].lexical
    else:
        dense = (1 - CONTEXT_WEIGHT) * scores[0].dense + CONTEXT_WEIGHT * scores[1].dense
        lex = (1 - CONTEXT_WEIGHT) * scores[0].lexical + CONTEXT_WEIGHT * scores[1].lexical
    fused = dense_weight * dense + (1 - dense_weight) * lex
    candidates = [
        Candidate(passage_id=int(pid), score=float(f), dense=float(d), lexical=float(x))
        for pid, f, d, x in zip(ids, fused, dense, lex, strict=True)
    ]
    candidates.sort(key=lambda c: (-c.score, c.passage_id))
    return candidates
