"""Extractive answers: the sentence that answers inside each passage, citations, abstention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.embed import Vectors
from qa.results import Answer, Citation
from qa.store import PassageRow, SentenceRow

# Share of the question's content words found in a sentence, added to its cosine similarity.
LEXICAL_WEIGHT = 0.5
# Below this cosine between the question and the best passage or sentence, nothing answers.
# Calibrated on SQuAD: questions asked of an index without their article score above it 5.9%
# of the time; questions whose article is present and found score below it 6.6% (docs/BENCHMARKS.md).
ABSTAIN_BELOW = 0.50
# A second sentence joins the short answer when it is nearly as good as the first.
SECOND_SENTENCE_RATIO = 0.9
ABSTAIN_TEXT = "I could not find an answer to this in the articles. The closest matches are listed below."


@dataclass(frozen=True)
class Evidence:
    """A retrieved passage with its best sentence, before numbering."""

    passage: PassageRow
    score: float
    dense: float
    sentence_start: int
    sentence_end: int
    sentence_score: float  # cosine + lexical overlap
    sentence_cosine: float

    @property
    def strength(self) -> float:
        return max(self.dense, self.sentence_cosine)


def choose_sentence(
    passage: PassageRow,
    sentences: Sequence[SentenceRow],
    sentence_vectors: dict[str, np.ndarray],
    query_vector: Vectors,
    query_terms: set[str],
    terms_of: Callable[[str], list[str]],
) -> tuple[int, int, float, float]:
    """(start, end, combined score, cosine) of the sentence that best answers the query."""
    best = (passage.start, passage.end, -1.0, -1.0)
    query = query_vector.reshape(-1)
    for sentence in sentences or []:
        vector = sentence_vectors.get(sentence.vector_key)
        if vector is None:
            continue
        cosine = float(vector @ query)
        text = passage.text[sentence.start - passage.start : sentence.end - passage.start]
        overlap = len(query_terms & set(terms_of(text))) / len(query_terms) if query_terms else 0.0
        combined = cosine + LEXICAL_WEIGHT * overlap
        if combined > best[2]:
            best = (sentence.start, sentence.end, combined, cosine)
    return best


def assemble(question: str, evidence: Sequence[Evidence], abstain_below: float = ABSTAIN_BELOW) -> Answer:
    """Number the evidence as citations and write the short answer from its sentences."""
    citations = tuple(
        Citation(
            number=n,
            score=round(e.score, 4),
            article_id=e.passage.article_id,
            title=e.passage.title,
            url=e.passage.url,
            published=e.passage.published,
            source_path=e.passage.source_path,
            paragraph=e.passage.paragraph,
            text=e.passage.text,
            start=e.passage.start,
            end=e.passage.end,
            sentence=e.passage.text[e.sentence_start - e.passage.start : e.sentence_end - e.passage.start],
            sentence_start=e.sentence_start,
            sentence_end=e.sentence_end,
        )
        for n, e in enumerate(evidence, start=1)
    )
    if not evidence or evidence[0].strength < abstain_below:
        return Answer(question=question, text=ABSTAIN_TEXT, abstained=True, citations=citations)
    parts = [f"{citations[0].sentence} [1]"]
    if len(evidence) > 1:
        second = evidence[1]
        if (
            second.strength >= abstain_below
            and second.sentence_score >= SECOND_SENTENCE_RATIO * evidence[0].sentence_score
            and citations[1].sentence != citations[0].sentence
        ):
            parts.append(f"{citations[1].sentence} [2]")
    return Answer(question=question, text=" ".join(parts), abstained=False, citations=citations)
