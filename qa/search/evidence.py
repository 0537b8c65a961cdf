"""What the ranking hands on: passages with their answering sentences, best first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from qa.models.reader import Reading
from qa.search.retriever import Candidate
from qa.search.sentences import SentenceScore
from qa.storage.rows import PassageRow


@dataclass(frozen=True)
class Ranking:
    """The ranked passages of one question, and what abstention needs to know about the rest."""

    evidence: list[Evidence]
    best_dense: float  # the highest cosine of the (resolved) question with any candidate
    coverage: float  # idf-weighted share of the question's content words that the index knows
    as_of: dt.datetime | None = None  # when a question about the present was asked (else None)
    # The reader's calibrated probability that the best passage answers, when the reader ranked.
    answer_probability: float | None = None
    abstain_below_probability: float = 0.5  # the reader's threshold


@dataclass(frozen=True)
class Evidence:
    """A ranked passage with its answering sentence."""

    passage: PassageRow
    candidate: Candidate
    sentence: SentenceScore  # the answering sentence
    sentences: tuple[SentenceScore, ...]  # every sentence of the passage, scored
    features: np.ndarray  # PASSAGE_FEATURES
    score: float
    also_in: tuple[str, ...] = ()
    reading: Reading | None = None  # the reader's, when it read this passage
