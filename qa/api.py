"""The QA facade: the one entry point the CLI, the web app and Python users share."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer import ABSTAIN_BELOW, Evidence, assemble, choose_sentence
from qa.conversation import ARTICLE_BOOST, Chat
from qa.embed import Encoder, default_encoder
from qa.errors import BadInputError
from qa.generations import current_name
from qa.index import Generation, describe, open_generation
from qa.results import Answer, Hit
from qa.retrieve import Candidate, retrieve
from qa.store import PassageRow

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 100


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise BadInputError(f"A question must be text, not {type(question).__name__}.")
    text = question.strip()
    if not text:
        raise BadInputError("The question is empty. Type a question about the articles.")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadInputError(
            f"The question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
            "Ask the question itself, not a whole document."
        )
    return text


def check_top_k(top_k: object) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise BadInputError(f"top_k must be a whole number from 1 to {MAX_TOP_K}, got {top_k!r}.")
    return top_k


class QA:
    """Question answering over one index folder. Thread-safe; picks up rebuilt indexes."""

    def __init__(
        self, index_dir: Path, encoder: Encoder, generation: Generation, abstain_below: float = ABSTAIN_BELOW
    ) -> None:
        self.index_dir = index_dir
        self.abstain_below = abstain_below
        self.encoder = encoder
        self._generation = generation
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        index: str | os.PathLike[str] = "index",
        *,
        encoder: Encoder | None = None,
        abstain_below: float = ABSTAIN_BELOW,
    ) -> QA:
        """Open the live generation of ``index``; loads the embedding model unless given one.

        ``abstain_below`` is the evidence score (cosine similarity of question and best
        passage or sentence) under which the answer abstains; it depends on the model.
        """
        index_dir = Path(index)
        encoder = encoder or default_encoder()
        return cls(index_dir, encoder, open_generation(index_dir, encoder), abstain_below)

    @property
    def generation(self) -> str:
        return self._generation.path.name

    def refresh(self) -> bool:
        """Switch to a newer published generation, if any. Called before every question."""
        with self._lock:
            live = current_name(self.index_dir)
            if live is None or live == self._generation.path.name:
                return False
            fresh = open_generation(self.index_dir, self.encoder)
            old, self._generation = self._generation, fresh
            old.close()
            logger.info("Switched to index generation %s", fresh.path.name)
            return True

    def close(self) -> None:
        self._generation.close()

    def __enter__(self) -> QA:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> dict[str, Any]:
        """The live generation: when and how it was built, counts, size on disk."""
        g = self._generation
        return describe(self.index_dir, g.path, g.manifest)

    def chat(self) -> Chat:
        return Chat(self)

    def search(self, query: str, top_k: int = 10) -> list[Hit]:
        """Ranked passages for ``query``, without answer assembly."""
        text = check_question(query)
        top_k = check_top_k(top_k)
        with self._lock:
            self.refresh()
            vector = self.encoder.encode([text])[0]
            ranked = self._rank(text, vector, top_k, prefer_articles=())
            return [
                Hit(
                    passage_id=row.id,
                    score=round(c.score, 4),
                    article_id=row.article_id,
                    title=row.title,
                    url=row.url,
                    published=row.published,
                    source_path=row.source_path,
                    paragraph=row.paragraph,
                    text=row.text,
                    start=row.start,
                    end=row.end,
                )
                for c, row in ranked
            ]

    def ask(
        self,
        question: str,
        top_k: int = 5,
        *,
        context: str | None = None,
        prefer_articles: tuple[str, ...] = (),
    ) -> Answer:
        """Answer ``question`` from the articles, citing the passages and sentences used.

        ``context`` (the earlier question) and ``prefer_articles`` are how a :class:`Chat`
        resolves follow-ups; most callers leave them out.
        """
        text = check_question(question)
        top_k = check_top_k(top_k)
        with self._lock:
            self.refresh()
            vectors = self.encoder.encode([text] if context is None else [text, f"{context} {text}"])
            ranked = self._rank(
                text,
                vectors[0],
                top_k,
                prefer_articles,
                context_text=None if context is None else f"{context} {text}",
                context_vector=None if context is None else vectors[1],
            )
            return assemble(text, self._evidence(ranked, vectors[0], text), self.abstain_below)

    def _rank(
        self,
        text: str,
        vector: np.ndarray,
        top_k: int,
        prefer_articles: tuple[str, ...],
        context_text: str | None = None,
        context_vector: np.ndarray | None = None,
    ) -> list[tuple[Candidate, PassageRow]]:
        g = self._generation
        candidates = retrieve(
            g.vectors,
            g.lexical,
            text,
            vector,
            pool=max(50, 2 * top_k),
            context_text=context_text,
            context_vector=context_vector,
        )
        if prefer_articles:  # a follow-up: favour the articles the previous answer cited
            rows = g.store.passages([c.passage_id for c in candidates])
            preferred = set(prefer_articles)

            def final(c: Candidate) -> float:
                return c.score + (ARTICLE_BOOST if rows[c.passage_id].article_id in preferred else 0.0)

            candidates.sort(key=lambda c: (-final(c), c.passage_id))
        else:
            rows = g.store.passages([c.passage_id for c in candidates[:top_k]])
        return [(c, rows[c.passage_id]) for c in candidates[:top_k]]

    def _evidence(
        self, ranked: list[tuple[Candidate, PassageRow]], vector: np.ndarray, text: str
    ) -> list[Evidence]:
        g = self._generation
        sentences = g.store.sentences([row.id for _, row in ranked])
        sentence_vectors = g.store.vectors(s.vector_key for rows in sentences.values() for s in rows)
        terms = g.lexical.content_terms(text)
        evidence = []
        for candidate, row in ranked:
            choice = choose_sentence(
                row, sentences[row.id], sentence_vectors, vector, terms, g.lexical.content_terms
            )
            evidence.append(
                Evidence(passage=row, score=candidate.score, dense=candidate.dense, sentence=choice)
            )
        return evidence
