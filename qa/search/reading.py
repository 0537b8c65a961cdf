"""The reader's turn: it reads the question with each of the best candidates and decides their
order, the sentence of each that answers, and how likely the best one answers at all.

The candidates' ranking score stays in the sum (the reader alone ranked terse search-box queries
worse than retrieval did; ../shared/MODELS.md), so the final score is
``reader_weight * reader logit + ranking score``; the answering sentence is the one with the best
reader sentence logit plus ``sentence_mix`` times its ranking score. Both weights and how many
candidates are read belong to the reader's version (its calibration, qa.models.reader), fitted by
bench/reader_fit.py on half of the SQuAD tune articles and our news questions and checked on the
other half (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from qa.models.reader import Reading
from qa.search.evidence import Evidence
from qa.search.protocols import PassageReader
from qa.search.sentences import Question


def read_best(reader: PassageReader, question: Question, ranked: Sequence[Evidence]) -> list[Evidence]:
    """``ranked`` (best first, distinct) with its first ``read_pool`` read and re-ordered first;
    the rest follow in their ranking order (how many are read, not ``top_k``, sets the cost)."""
    settings = reader.calibration
    count = min(len(ranked), settings.read_pool)
    head = list(ranked[:count])
    # A follow-up is read in its own words: the conversation already chose the candidates (and
    # read together, the earlier question would pull back to what was already answered).
    readings = reader.read(
        question.text,
        [
            (e.passage.text, [(s.start - e.passage.start, s.end - e.passage.start) for s in e.sentences])
            for e in head
        ],
        [e.passage.title for e in head],
    )
    read = [
        _with_reading(e, r, settings.reader_weight, settings.sentence_mix)
        for e, r in zip(head, readings, strict=True)
    ]
    read.sort(key=lambda e: (-e.score, e.passage.id))
    return read + list(ranked[count:])


def score_unread_below(reader: PassageReader, evidence: Sequence[Evidence]) -> list[Evidence]:
    """The passages the reader did not read, scored as if it gave each the lowest logit it gave
    any passage it read: their ranking scores are no higher than those of the passages read, so
    the scores fall down the list (a score is comparable with those above and below it)."""
    logits = [e.reading.logit for e in evidence if e.reading is not None]
    floor = reader.calibration.reader_weight * min(logits, default=0.0)
    return [e if e.reading is not None else dataclasses.replace(e, score=e.score + floor) for e in evidence]


def _with_reading(e: Evidence, reading: Reading, weight: float, sentence_mix: float) -> Evidence:
    combined = [
        logit + sentence_mix * s.score for logit, s in zip(reading.sentences, e.sentences, strict=True)
    ]
    best = max(range(len(combined)), key=lambda i: combined[i]) if combined else -1
    sentence = e.sentences[best] if best >= 0 and math.isfinite(combined[best]) else e.sentence
    return dataclasses.replace(e, sentence=sentence, score=weight * reading.logit + e.score, reading=reading)
