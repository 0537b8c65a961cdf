"""Hybrid retrieval: dense (FAISS) and BM25 candidates, fused into one passage ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    if len(lexical.passage_ids) == 0:
        return []
    queries = [(query_text, query_vector)]
    if context_text is not None and context_vector is not None:
        queries.append((context_text, context_vector))
    bm25 = [lexical.scores(text) for text, _ in queries]  # every passage, one sparse pass each
    found: set[int] = set()
    for (_, vector), scores in zip(queries, bm25, strict=True):
        _, dense_ids = vectors.search(vector.reshape(1, -1), pool)
        found.update(int(i) for i in dense_ids[0] if i >= 0)
        top = np.argpartition(-scores, min(pool, len(scores)) - 1)[:pool]
        found.update(int(i) for i in lexical.passage_ids[top[scores[top] > 0]])
    ids = np.array(sorted(found), dtype=np.int64)
    rows = np.searchsorted(lexical.passage_ids, ids)  # both sorted by passage id
    matrix = vectors.vectors_for(ids)
    dense_parts = [matrix @ vector.reshape(-1) for _, vector in queries]
    # BM25 scaled by its best score, which always belongs to a candidate.
    lexical_parts = [s[rows] / s.max() if s.max() > 0 else s[rows] for s in bm25]
    if len(queries) == 1:
        dense, lex = dense_parts[0], lexical_parts[0]
    else:
        dense = (1 - CONTEXT_WEIGHT) * dense_parts[0] + CONTEXT_WEIGHT * dense_parts[1]
        lex = (1 - CONTEXT_WEIGHT) * lexical_parts[0] + CONTEXT_WEIGHT * lexical_parts[1]
    fused = dense_weight * dense + (1 - dense_weight) * lex
    candidates = [
        Candidate(passage_id=int(pid), score=float(f), dense=float(d))
        for pid, f, d in zip(ids, fused, dense, strict=True)
    ]
    candidates.sort(key=lambda c: (-c.score, c.passage_id))
    return candidates
