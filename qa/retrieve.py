"""Hybrid retrieval: dense (FAISS) and BM25 candidates, fused into one passage ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.embed import Vectors
from qa.lexical import LexicalIndex
from qa.vectors import VectorIndex

# Weight of the dense cosine in the fused score; the rest goes to BM25 scaled by the best BM25
# score among the candidates. Tuned on the SQuAD tune split (bench/retrieval.py).
DENSE_WEIGHT = 0.6
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
    recall_text: str | None = None,
    recall_vector: Vectors | None = None,
) -> list[Candidate]:
    """Candidates best first, scored against the query.

    ``recall_text``/``recall_vector`` (a follow-up's question in context) only widen the
    candidate pool; scores always come from the question itself.
    """
    query_vector = query_vector.reshape(-1)
    dense_queries = [query_vector] if recall_vector is None else [query_vector, recall_vector.reshape(-1)]
    _, dense_ids = vectors.search(np.stack(dense_queries), pool)
    ids = {int(i) for row in dense_ids for i in row if i >= 0}

    bm25_scores, bm25_ids = lexical.search(query_text, pool)
    best_bm25 = float(bm25_scores.max()) if len(bm25_scores) else 0.0
    bm25 = (
        {int(i): float(s) / best_bm25 for i, s in zip(bm25_ids, bm25_scores, strict=True)}
        if best_bm25
        else {}
    )
    ids.update(bm25)
    if recall_text is not None:
        ids.update(int(i) for i in lexical.search(recall_text, pool)[1])

    ordered = np.array(sorted(ids), dtype=np.int64)
    cosines = vectors.vectors_for(ordered) @ query_vector
    candidates = [
        Candidate(
            passage_id=int(pid),
            score=dense_weight * float(cos) + (1 - dense_weight) * bm25.get(int(pid), 0.0),
            dense=float(cos),
            lexical=bm25.get(int(pid), 0.0),
        )
        for pid, cos in zip(ordered, cosines, strict=True)
    ]
    candidates.sort(key=lambda c: (-c.score, c.passage_id))
    return candidates
