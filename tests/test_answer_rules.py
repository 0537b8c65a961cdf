"""The rules behind the answering sentence: answer kinds, novelty, restating sentences, headings."""

from __future__ import annotations

import numpy as np
import pytest

from qa.ingest.headings import find_headings, looks_like_heading
from qa.search.answer_types import AnswerKind, expected_kind, holds_kind
from qa.search.sentences import SentenceScore, analyse_question, best_sentence
from qa.text.terms import default_analyzer


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who won Super Bowl 50?", AnswerKind.PERSON),
        ("Which company bought the factory?", AnswerKind.PERSON),
        ("When did the harbour bridge reopen?", AnswerKind.DATE),
        ("What year was the treaty signed?", AnswerKind.DATE),
        ("How many civilians are still in the town?", AnswerKind.NUMBER),
        ("How much did the repairs cost?", AnswerKind.MONEY),
        ("What is the price tag of the project?", AnswerKind.MONEY),
        ("How much rain fell overnight?", AnswerKind.NUMBER),
        ("What years did the original Doctor Who series run?", AnswerKind.DATE),  # plural; "Who" is a title
        ("Which months were the driest?", AnswerKind.DATE),
        ("What did Doctor Who fight in the first episode?", None),
        ("who is the new coach?", AnswerKind.PERSON),
        ("What percentage of voters turned out?", AnswerKind.NUMBER),
        ("Where is the new plant being built?", AnswerKind.PLACE),
        ("In which city did the summit take place?", AnswerKind.PLACE),
        ("Why did the council close the park?", AnswerKind.REASON),
        ("What is the disorder's new name?", AnswerKind.NAME),
        ("What did Ukraine vow to do in Bakhmut?", None),
    ],
)
def test_expected_kind(question: str, kind: AnswerKind | None) -> None:
    assert expected_kind(question) is kind


@pytest.mark.parametrize(
    ("sentence", "question", "holds"),
    [
        # A number the question does not already have.
        ("About 4,000 civilians remain in the town.", "How many civilians remain in Bakhmut?", True),
        ("Super Bowl 50 was played in California.", "How many people watched Super Bowl 50?", False),
        ("Twelve new hives were counted.", "How many hives are in the park?", True),
        # A year or a day of the month is a date, not a count.
        ("The storm hit on May 21, 2013.", "How many homes did the storm destroy?", False),
        ("In 2013 about 2,000 residents left.", "How many residents left?", True),
        # A sum of money needs a currency, not just any figure.
        (
            "On May 21, 2013, owners awarded the game to Levi's Stadium.",
            "How much did Levi's Stadium cost?",
            False,
        ),
        ("The $1.2 billion stadium opened in 2014.", "How much did Levi's Stadium cost?", True),
        ("Repairs came to 40 million euros.", "How much did the repairs cost?", True),
        ("Repairs took 40 days.", "How much did the repairs cost?", False),
        # Dates and times.
        ("The bridge reopened on Friday after repairs.", "When did the bridge reopen?", True),
        ("The bridge reopened after repairs.", "When did the bridge reopen?", False),
        ("The accord was signed in 1973.", "What year was the accord signed?", True),
        # Names that are new to the question, not the question's own.
        ("The Denver Broncos beat the Carolina Panthers.", "Who won Super Bowl 50?", True),
        ("The final was a close game.", "Who won the final?", False),
        ("Mercer Dental said the law was unclear.", "What did Mercer Dental say?", False),
        # Places after a preposition.
        ("The plant will be built in Ostrava.", "Where will the plant be built?", True),
        ("The plant will be built soon.", "Where will the plant be built?", False),
        # Reasons.
        ("The park closed because of flooding.", "Why did the park close?", True),
        ("The park closed on Monday.", "Why did the park close?", False),
    ],
)
def test_holds_kind(sentence: str, question: str, holds: bool) -> None:
    assert holds_kind(sentence, expected_kind(question), question) is holds


def _score(holds: bool, score: float, start: int) -> SentenceScore:
    features = np.array([score, 0.5, float(holds), 0.5, 0.0], dtype=np.float32)
    return SentenceScore(start, start + 10, features, score)


def test_a_restating_sentence_gives_way_to_the_next_one_that_answers() -> None:
    question = analyse_question("Who won the final?", np.zeros(4), default_analyzer())
    lede, answer = _score(False, 0.9, 0), _score(True, 0.6, 11)
    assert best_sentence([lede, answer], question) is answer
    # Not when the question wants no particular kind, nor when the next sentence holds none.
    open_question = analyse_question("What happened at the final?", np.zeros(4), default_analyzer())
    assert best_sentence([lede, answer], open_question) is lede
    assert best_sentence([lede, _score(False, 0.6, 11)], question) is lede
    # A best sentence that answers itself is kept.
    assert best_sentence([_score(True, 0.9, 0), answer], question).start == 0


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        ("What happens next", True),
        ("Stanley Cup Final: Avalanche vs. Hurricanes", True),
        ("Most-Streamed Albums Globally", True),
        ("The team won the cup.", False),
        ('"We will rebuild," she said.', False),
        ("Read more:", False),
        ("A heading that goes on and on for far too many words to be a heading at all really", False),
    ],
)
def test_looks_like_heading(text: str, heading: bool) -> None:
    assert looks_like_heading(text) is heading


def test_headings_need_text_under_them() -> None:
    texts = [
        "Lede paragraph ends here.",
        "Subheading",
        "Body under it.",
        "Trailing line",
        "Lonely A",
        "Lonely B",
    ]
    assert find_headings(texts, [False] * 6) == [False, True, False, False, False, False]
    # A boilerplate paragraph between a heading and its text is skipped over.
    texts = ["Subheading", "Subscribe now", "Body under it."]
    assert find_headings(texts, [False, True, False]) == [True, False, False]
