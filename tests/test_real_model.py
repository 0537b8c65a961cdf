"""End to end with the real embedding model over the real sample corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa import QA
from tests.conftest import EXAMPLES, SEED

pytestmark = pytest.mark.slow

SEED_ID = f"news/{SEED.name}"
APPEAL_PARAGRAPHS = range(15, 23)  # the Moscow Times donation appeal: lines 15-22 of the seed


@pytest.fixture(scope="module")
def real_qa(real_index: Path) -> QA:
    return QA.open(real_index)


@pytest.mark.parametrize(
    ("question", "paragraph", "words"),
    [
        ("What did Ukraine vow to do in Bakhmut?", 4, "bolster its defenses"),
        ("Which mercenary outfit led the Russian attack on the town?", 10, "Wagner"),
        pytest.param(
            "How many people lived in Bakhmut before the war?",
            3,
            "80,000",
            # Its paragraph says "the salt-mining town ... had a pre-war population of 80,000"
            # without naming Bakhmut: reader 1.20175 puts it second (0.42) under a soldier's
            # quote that names Bakhmut (¶11, 0.76); 1.3000 put it first but abstained.
            marks=pytest.mark.xfail(strict=True, reason="reader 1.20175 cites ¶11; docs/BENCHMARKS.md"),
        ),
        ("How many civilians are still living in the town?", 14, "4,000 civilians"),
        (
            "What did Russia's defence minister say about capturing Bakhmut?",
            5,
            "further offensive operations",
        ),
        ("Which UN official was on his way to Ukraine for talks?", 2, "Guterres"),
    ],
)
def test_questions_about_the_seed_cite_the_right_paragraph(
    real_qa: QA, question: str, paragraph: int, words: str
) -> None:
    answer = real_qa.ask(question)
    top = answer.citations[0]
    assert not answer.abstained
    assert (top.article_id, top.paragraph) == (SEED_ID, paragraph), answer.citations[:3]
    assert words in top.sentence
    assert top.sentence in answer.text
    text = (EXAMPLES / top.source_path).read_bytes().decode("utf-8")
    assert text[top.start : top.end] == top.text
    assert text[top.sentence_start : top.sentence_end] == top.sentence


@pytest.mark.parametrize(
    "question",
    [
        "How can readers support The Moscow Times?",
        "Who designated the newspaper an undesirable organization?",
        "Remind me later",
        "How much is the monthly contribution?",
    ],
)
def test_the_donation_appeal_is_never_cited(real_qa: QA, question: str) -> None:
    for c in real_qa.ask(question, top_k=20).citations:
        assert not (c.article_id == SEED_ID and c.paragraph in APPEAL_PARAGRAPHS), c


# Reader 1.3000 cited a later paragraph ("Super Bowl 50 featured numerous records ...") over the
# lede that names the winner; 1.20175 cites the lede, as the fast path does.
def test_wikipedia_question_cites_its_article(real_qa: QA) -> None:
    answer = real_qa.ask("Which team won Super Bowl 50?")
    assert answer.citations[0].article_id == "wikipedia/super-bowl-50.txt"
    assert "Denver Broncos" in answer.citations[0].sentence


def test_question_the_articles_cannot_answer_abstains(real_qa: QA) -> None:
    answer = real_qa.ask("What is a good recipe for chocolate chip cookies?")
    assert answer.abstained
    assert answer.citations  # still shows the closest matches


def test_follow_up_uses_the_conversation(real_qa: QA) -> None:
    chat = real_qa.chat()
    chat.ask("Who won Super Bowl 50?")
    answer = chat.ask("Who was their quarterback?")
    assert answer.citations[0].article_id == "wikipedia/super-bowl-50.txt"
    assert "Manning" in " ".join(c.text for c in answer.citations[:3])


def test_cli_ask_json_in_a_subprocess(real_index: Path, real_qa: QA) -> None:
    question = "What did Ukraine vow to do in Bakhmut?"
    env = {**os.environ, "QA_INDEX": str(real_index)}
    done = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "--json", question],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data == real_qa.ask(question).to_dict()  # the CLI and the API agree
    assert data["citations"][0]["paragraph"] == 4
