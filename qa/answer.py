"""Extractive answers: the sentence that answers inside each passage, citations, abstention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.embed import Vectors
from qa.results import Answer, Citation
from qa.store import PassageRow, SentenceRow

# Weight of the share of the question's content words found in a sentence, added to its cosine
# similarity when choosing the answering sentence (SQuAD: right sentence 84.9% of the time).
SENTENCE_SHARE_WEIGHT = 0.5
# Evidence = cosine of question and passage + EVIDENCE_SHARE_WEIGHT * the best sentence's share of
# the question's content words; below ABSTAIN_BELOW nothing answers. Calibrated on SQuAD (asked
# of an index with and without the question's article): 8.8% of questions whose article is
# absent still answer, 2.3% whose article is present and found abstain (docs/BENCHMARKS.md).
EVIDENCE_SHARE_WEIGHT = 0.6
ABSTAIN_BELOW = 0.63
# A second sentence joins the short answer when it is nearly as good as the first.
SECOND_SENTENCE_RATIO = 0.9
ABSTAIN_TEXT = "I could not find an answer to this in the articles. The closest matches are listed below."


@dataclass(frozen=True)
class SentenceChoice:
    start: int
    end: int
    score: float  # cosine + SENTENCE_SHARE_WEIGHT * share
    share: float  # share of the question's content words in the sentence


@dataclass(frozen=True)
class Evidence:
    """A retrieved passage with its best sentence, before numbering."""

    passage: PassageRow
    score: float  # retrieval score, used for ranking
    dense: float  # cosine of question and passage
    sentence: SentenceChoice

    @property
    def strength(self) -> float:
        """How well this passage answers: what abstention is decided on."""
        return self.dense + EVIDENCE_SHARE_WEIGHT * self.sentence.share


def choose_sentence(
    passage: PassageRow,
    sentences: Sequence[SentenceRow],
    sentence_vectors: dict[str, np.ndarray],
    query_vector: Vectors,
    query_terms: set[str],
    terms_of: Callable[[str], set[str]],
) -> SentenceChoice:
    """The sentence of ``passage`` that best answers the query (the whole passage if none)."""
    best = SentenceChoice(passage.start, passage.end, -1.0, 0.0)
    query = query_vector.reshape(-1)
    for sentence in sentences:
        vector = sentence_vectors.get(sentence.vector_key)
        if vector is None:
            continue
        text = passage.text[sentence.start - passage.start : sentence.end - passage.start]
        share = len(query_terms & terms_of(text)) / len(query_terms) if query_terms else 0.0
        score = float(vector @ query) + SENTENCE_SHARE_WEIGHT * share
        if score > best.score:
            best = SentenceChoice(sentence.start, sentence.end, score, share)
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
            sentence=e.passage.text[e.sentence.start - e.passage.start : e.sentence.end - e.passage.start],
            sentence_start=e.sentence.start,
            sentence_end=e.sentence.end,
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
            and second.sentence.score >= SECOND_SENTENCE_RATIO * evidence[0].sentence.score
            and citations[1].sentence != citations[0].sentence
        ):
            parts.append(f"{citations[1].sentence} [2]")
    return Answer(question=question, text=" ".join(parts), abstained=False, citations=citations)
