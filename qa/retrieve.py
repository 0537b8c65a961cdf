"""Hybrid retrieval: dense (FAISS) and BM25 candidates, fused into one passage ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.embed import Vectors
from qa.lexical import LexicalIndex
from qa.vectors import VectorIndex

# Weight of the dense cosine in the fused score; the rest goes to BM25 scaled by the best BM25
# score among the candidates. Tuned on the SQuAD tune split (bench/retrieval.py).
DENSE_WEIGHT = 0.5
CANDIDATES = 50


@dataclass(frozen=True)
class Candidate:
    passage_id: int
    score: float  # fused
    dense: float  # cosine similarity of query and passage
    lexical: float  # BM25 divided by the best BM25 among candidates


def retrieve(
    vectors: VectorIndex,
    lexical: LexicalIndex,
    query_text: str,
    query_vector: Vectors,
    *,
    pool: int = CANDIDATES,
    dense_weight: float = DENSE_WEIGHT,
) -> list[Candidate]:
    """Up to ``2 * pool`` candidates, best first."""
    dense_scores, dense_ids = vectors.search(query_vector.reshape(1, -1), pool)
    dense = {int(i): float(s) for i, s in zip(dense_ids[0], dense_scores[0], strict=True) if i >= 0}
    bm25_scores, bm25_ids = lexical.search(query_text, pool)
    best_bm25 = float(bm25_scores.max()) if len(bm25_scores) else 0.0
    bm25 = {int(i): float(s) / best_bm25 for i, s in zip(bm25_ids, bm25_scores, strict=True)} if best_bm25 > 0 else {}

    lexical_only = np.array([i for i in bm25 if i not in dense], dtype=np.int64)
    if len(lexical_only):
        sims = vectors.vectors_for(lexical_only) @ query_vector.reshape(-1)
        dense.update(zip(map(int, lexical_only), map(float, sims), strict=True))

    candidates = [
        Candidate(
            passage_id=pid,
            score=dense_weight * cos + (1 - dense_weight) * bm25.get(pid, 0.0),
            dense=cos,
            lexical=bm25.get(pid, 0.0),
        )
        for pid, cos in dense.items()
    ]
    candidates.sort(key=lambda c: (-c.score, c.passage_id))
    return candidates
