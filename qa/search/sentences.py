"""The sentence that answers, inside a passage.

A sentence is scored on what it shares with the question (embedding similarity, the question's
content words it covers), what it *adds* (content words beyond the question's), and whether it
holds the kind of answer asked for (:mod:`qa.search.answer_types`). The weights were fitted on
the SQuAD tune questions (bench/fit_weights.py; docs/BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.search.answer_types import AnswerKind, expected_kind, holds_kind
from qa.search.recency import about_the_present
from qa.storage.rows import PassageRow, SentenceRow
from qa.text.terms import Analyzer

SENTENCE_FEATURES = ("cosine", "share", "kind", "novelty", "first")
# Fitted by bench/fit_weights.py on the SQuAD tune questions and, weighted 30%, our news questions
# (gold = a sentence holding a gold answer); docs/BENCHMARKS.md.
SENTENCE_WEIGHTS = np.array([5.895, 5.530, 1.987, -1.103, -0.329], dtype=np.float32)


@dataclass(frozen=True)
class Question:
    """A question analysed once: its words, content terms and the answer kind it wants."""

    text: str
    terms: frozenset[str]
    kind: AnswerKind | None
    vector: np.ndarray
    known: str = ""  # text whose names and numbers the asker already has (a follow-up: the conversation)
    topic_terms: frozenset[str] = frozenset()  # content words of ``known``: what the story is about
    present: bool = False  # asks how things stand now: the latest story wins (qa.search.recency)


def analyse_question(
    text: str, vector: np.ndarray, analyzer: Analyzer, context: str | None = None
) -> Question:
    """``context``: a follow-up read in its conversation. Its own words choose the sentence (the
    conversation's would pull back to what was already answered); the conversation says which
    story it is about and which names the asker already has."""
    known = context or text
    own = frozenset(analyzer.content_terms(text))
    topic = frozenset(analyzer.content_terms(known))
    return Question(text, own or topic, expected_kind(text), vector, known, topic, about_the_present(text))


@dataclass(frozen=True)
class SentenceScore:
    start: int  # offsets in the article's text
    end: int
    features: np.ndarray  # SENTENCE_FEATURES
    score: float

    @property
    def cosine(self) -> float:
        return float(self.features[0])

    @property
    def share(self) -> float:
        return float(self.features[1])

    @property
    def holds_kind(self) -> bool:
        return bool(self.features[2])

    @property
    def novelty(self) -> float:
        return float(self.features[3])


def score_sentences(
    question: Question,
    passage: PassageRow,
    sentences: Sequence[SentenceRow],
    vectors: dict[str, np.ndarray],
    analyzer: Analyzer,
    weights: np.ndarray = SENTENCE_WEIGHTS,
) -> list[SentenceScore]:
    """Every sentence of ``passage`` with its features and score, in text order.

    A passage with no sentence rows is scored as one sentence (its whole text).
    """
    spans = [(s.start, s.end, vectors.get(s.vector_key)) for s in sentences] or [
        (passage.start, passage.end, None)
    ]
    query = question.vector.reshape(-1)
    out: list[SentenceScore] = []
    for position, (start, end, vector) in enumerate(spans):
        text = passage.text[start - passage.start : end - passage.start]
        terms = analyzer.content_terms(text)
        share = len(question.terms & terms) / len(question.terms) if question.terms else 0.0
        novelty = len(terms - question.terms) / len(terms) if terms else 0.0
        features = np.array(
            [
                float(vector @ query) if vector is not None else 0.0,
                share,
                float(holds_kind(text, question.kind, question.known or question.text)),
                novelty,
                float(position == 0),
            ],
            dtype=np.float32,
        )
        out.append(SentenceScore(start, end, features, float(features @ weights)))
    return out


def best_sentence(scores: Sequence[SentenceScore], question: Question) -> SentenceScore:
    """The best-scoring sentence; if it only restates the question, the next one that answers.

    "Restates" means the question wants a kind of answer (a name, a date, a number) that the
    best sentence lacks while the sentence right after it holds one.
    """
    best_index = max(range(len(scores)), key=lambda i: scores[i].score)
    best = scores[best_index]
    if question.kind is not None and not best.holds_kind and best_index + 1 < len(scores):
        following = scores[best_index + 1]
        if following.holds_kind:
            return following
    return best
