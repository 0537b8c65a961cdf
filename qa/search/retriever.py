"""Candidate passages: dense and BM25 lists, fused into one ranking.

Typed against the :mod:`qa.search.protocols`, so any vector or keyword backend plugs in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.models.embed import Vectors
from qa.search.protocols import Ids, LexicalIndex, LexicalMatches, VectorIndex

# Weight of the dense cosine in the fused score; the rest goes to BM25 scaled by the best BM25
# score of the query. Measured on SQuAD dev (docs/BENCHMARKS.md): 0.6 beats 0.5 and 0.7.
DENSE_WEIGHT = 0.6
CANDIDATES = 50
# A follow-up's scores blend the question alone with the question read in its conversation.
CONTEXT_WEIGHT = 0.5


@dataclass(frozen=True)
class Query:
    """What retrieval searches for: the question, and for a follow-up, the question in context."""

    text: str
    vector: Vectors
    context_text: str | None = None
    context_vector: Vectors | None = None

    @property
    def parts(self) -> list[tuple[str, Vectors]]:
        parts = [(self.text, self.vector)]
        if self.context_text is not None and self.context_vector is not None:
            parts.append((self.context_text, self.context_vector))
        return parts


@dataclass(frozen=True)
class Candidate:
    passage_id: int
    score: float  # fused
    dense: float  # cosine similarity of query and passage (a follow-up: blended with its context)
    lexical: float  # BM25 over the best BM25 score of the query, 0..1
    resolved_dense: float  # cosine with the question as resolved (a follow-up in its context)


@dataclass(frozen=True)
class Retrieval:
    """Candidates for one query, and what it takes to score more passages for the same query."""

    candidates: list[Candidate]
    query: Query
    retriever: Retriever
    matches: list[LexicalMatches]
    allowed: frozenset[int] | None = None  # the passages the question's scope admits (None: all)

    def admits(self, passage_id: int) -> bool:
        return self.allowed is None or passage_id in self.allowed

    @property
    def coverage(self) -> float:
        """Idf-weighted share of the question's content words the keyword index knows."""
        return self.matches[0].coverage if self.matches else 0.0

    def score(self, ids: list[int]) -> list[Candidate]:
        """Fused scores of passages that were not among the candidates (e.g. a lede's next paragraph)."""
        if not ids:
            return []
        return self.retriever.fuse(np.array(ids, dtype=np.int64), self.query, self.matches)


class Retriever:
    def __init__(
        self, vectors: VectorIndex, lexical: LexicalIndex, dense_weight: float = DENSE_WEIGHT
    ) -> None:
        self.vectors = vectors
        self.lexical = lexical
        self.dense_weight = dense_weight

    def retrieve(self, query: Query, pool: int = CANDIDATES, allowed: Ids | None = None) -> Retrieval:
        """Candidates best first: the union of each list's top ``pool``, scored by fusion.

        ``allowed`` (ascending passage ids) limits both searches to the passages a question's
        date and source scope admits; None admits every passage.
        """
        admitted = None if allowed is None else frozenset(int(i) for i in allowed)
        if len(self.lexical) == 0 or len(self.vectors) == 0 or (allowed is not None and len(allowed) == 0):
            return Retrieval([], query, self, [], admitted)
        parts = query.parts
        matches = [self.lexical.match(text) for text, _ in parts]
        found: set[int] = set()
        for (_, vector), match in zip(parts, matches, strict=True):
            _, dense_ids = self.vectors.search(vector.reshape(1, -1), pool, allowed)
            found.update(int(i) for i in dense_ids[0] if i >= 0)
            found.update(int(i) for i in match.top(pool, allowed))
        candidates = self.fuse(np.array(sorted(found), dtype=np.int64), query, matches)
        candidates.sort(key=lambda c: (-c.score, c.passage_id))
        return Retrieval(candidates, query, self, matches, admitted)

    def fuse(self, ids: np.ndarray, query: Query, matches: list[LexicalMatches]) -> list[Candidate]:
        """Fused dense + BM25 scores of ``ids`` for ``query``, in the order given."""
        parts = query.parts
        matrix = self.vectors.vectors_for(ids)
        dense_parts = [matrix @ vector.reshape(-1) for _, vector in parts]
        lexical_parts = [m.scores_of(ids) / m.best if m.best > 0 else np.zeros(len(ids)) for m in matches]
        if len(parts) == 1:
            dense, lexical = dense_parts[0], lexical_parts[0]
        else:
            dense = (1 - CONTEXT_WEIGHT) * dense_parts[0] + CONTEXT_WEIGHT * dense_parts[1]
            lexical = (1 - CONTEXT_WEIGHT) * lexical_parts[0] + CONTEXT_WEIGHT * lexical_parts[1]
        fused = self.dense_weight * dense + (1 - self.dense_weight) * lexical
        return [
            Candidate(
                passage_id=int(pid),
                score=float(f),
                dense=float(d),
                lexical=float(lex),
                resolved_dense=float(r),
            )
            for pid, f, d, lex, r in zip(ids, fused, dense, lexical, dense_parts[-1], strict=True)
        ]
