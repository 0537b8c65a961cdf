"""Extractive answers: number the ranked passages as citations and write the short answer from
their answering sentences, or abstain and list the closest matches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from qa.results import Answer, Citation
from qa.search.abstention import abstains, reported
from qa.search.evidence import Evidence, Ranking

# A second sentence joins the short answer when it is nearly as good as the first.
SECOND_SENTENCE_RATIO = 0.9
SECOND_PASSAGE_RATIO = 0.95
# With the reader: a second passage joins when its logit is within this of the first's (its
# probability saturates near 1 for any passage on the topic, its logit does not).
SECOND_READING_GAP = 0.5
# Stories this many days apart, or this much older than a question about the present, are dated
# in the answer: a reader should know the figure may have moved on.
STALE_DAYS = 30
ABSTAIN_TEXT = "I could not find an answer to this in the articles. The closest matches are listed below."


def citation(number: int, e: Evidence) -> Citation:
    p = e.passage
    return Citation(
        number=number,
        score=round(e.score, 4),
        passage_key=p.key,
        article_id=p.article_id,
        title=p.title,
        url=p.url,
        published=p.published,
        source_path=p.source_path,
        paragraph=p.paragraph,
        text=p.text,
        start=p.start,
        end=p.end,
        sentence=p.text[e.sentence.start - p.start : e.sentence.end - p.start],
        sentence_start=e.sentence.start,
        sentence_end=e.sentence.end,
        section=p.section,
        also_in=e.also_in,
        page=p.page,
        confidence=None if e.reading is None else reported(e.reading.probability),
    )


def assemble(question: str, ranking: Ranking, abstain_below: float, resolved_query: str = "") -> Answer:
    """Number the evidence as citations and write the short answer from its sentences."""
    evidence: Sequence[Evidence] = ranking.evidence
    citations = tuple(citation(n, e) for n, e in enumerate(evidence, start=1))
    probability = ranking.answer_probability
    confidence = None if probability is None else reported(probability)
    if abstains(ranking, abstain_below):
        return Answer(question, ABSTAIN_TEXT, True, citations, resolved_query, confidence)
    parts = [f"{citations[0].sentence} [1]"]
    if (
        len(evidence) > 1
        and citations[1].sentence != citations[0].sentence
        and _second_answers(evidence[0], evidence[1], ranking)
    ):
        parts.append(f"{citations[1].sentence} [2]")
    text = _dated(" ".join(parts), citations, ranking)
    return Answer(question, text, False, citations, resolved_query, confidence)


def _second_answers(first: Evidence, second: Evidence, ranking: Ranking) -> bool:
    """Whether the second passage's sentence joins the short answer: it scores nearly as well."""
    if first.reading is not None and second.reading is not None:  # the reader's verdict
        return (
            second.reading.probability >= ranking.abstain_below_probability
            and second.reading.logit >= first.reading.logit - SECOND_READING_GAP
        )
    return (
        second.score >= SECOND_PASSAGE_RATIO * first.score
        and second.sentence.score >= SECOND_SENTENCE_RATIO * first.sentence.score
        # a sentence without the asked-for kind of answer only restates the question
        and (second.sentence.holds_kind or not first.sentence.holds_kind)
    )


def _day(published: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(published[:10]) if published else None
    except ValueError:
        return None


def _spoken(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


def _dated(text: str, citations: Sequence[Citation], ranking: Ranking) -> str:
    """Say when the answer dates from where that matters.

    A question about the present answered by a story published a month or more before it was
    asked starts "As of 7 March 2023:"; an answer whose two cited stories are a month or more
    apart names both dates.
    """
    first = _day(citations[0].published)
    if "[2]" in text:
        second = _day(citations[1].published)
        if first and second and abs((first - second).days) >= STALE_DAYS:
            return f"{text} ([1] is from {_spoken(first)}, [2] from {_spoken(second)}.)"
    if ranking.as_of is not None and first and (ranking.as_of.date() - first).days >= STALE_DAYS:
        return f"As of {_spoken(first)}: {text}"
    return text
