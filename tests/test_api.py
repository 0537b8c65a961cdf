from __future__ import annotations

import threading
from pathlib import Path

import pytest

from qa import QA, BadInputError, build_index
from qa.search.conversation import is_follow_up
from tests.conftest import FAKE_ABSTAIN, SEED, FakeEncoder


@pytest.fixture
def qa(articles: Path, fake_encoder: FakeEncoder) -> QA:
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    return QA.open("idx", encoder=fake_encoder, abstain_below=FAKE_ABSTAIN)


def _file_text(articles: Path, source_path: str) -> str:
    return (articles / source_path).read_bytes().decode("utf-8")


def test_ask_cites_the_paragraph_with_exact_offsets(qa: QA, articles: Path) -> None:
    answer = qa.ask("How much did the harbour bridge repairs cost?")
    assert not answer.abstained
    top = answer.citations[0]
    assert (top.article_id, top.paragraph, top.title) == ("news/harbour.txt", 1, "Harbour bridge reopens")
    assert "[1]" in answer.text and top.sentence in answer.text
    for c in answer.citations:
        if c.source_path.endswith((".txt", ".md")):
            text = _file_text(articles, c.source_path)
            assert text[c.start : c.end] == c.text
            assert text[c.sentence_start : c.sentence_end] == c.sentence
        assert c.text[c.sentence_start - c.start : c.sentence_end - c.start] == c.sentence


def test_answer_markers_point_at_existing_citations(qa: QA) -> None:
    for question in ("Who photographed the comet?", "What did Ukraine vow in Bakhmut?", "hives clover park"):
        answer = qa.ask(question, top_k=3)
        numbers = [c.number for c in answer.citations]
        assert numbers == list(range(1, len(numbers) + 1))
        import re

        markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.text)]
        assert all(1 <= m <= len(numbers) for m in markers)
        assert markers == sorted(set(markers))  # numbered in order of first use


def test_boilerplate_is_never_cited(qa: QA) -> None:
    for question in (
        "Please support The Moscow Times monthly",
        "Subscribe to our newsletter",
        "Remind me later",
        "Dear readers, independent journalism",
    ):
        for c in qa.ask(question, top_k=10).citations:
            assert not (c.article_id.startswith("news/russia") and c.paragraph > 14), c
            assert "newsletter" not in c.text.lower()


def test_unrelated_question_abstains_and_still_lists_closest_matches(qa: QA) -> None:
    answer = qa.ask("zygote xylophone quasar")
    assert answer.abstained
    assert "[" not in answer.text
    assert answer.citations  # closest matches are still shown


def test_search_returns_ranked_hits(qa: QA) -> None:
    hits = qa.search("Wagner mercenary group", top_k=3)
    assert len(hits) == 3
    assert hits[0].article_id == f"news/{SEED.name}" and hits[0].paragraph == 10
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize(
    ("question", "top_k", "match"),
    [
        ("", 5, "question is empty"),
        ("   \n\t", 5, "question is empty"),
        ("x" * 2001, 5, "2,001 characters long; the limit is 2,000"),
        (None, 5, "must be text"),
        ("fine", 0, "top_k must be a whole number from 1 to 100"),
        ("fine", 101, "top_k must be"),
    ],
)
def test_bad_questions_are_rejected(qa: QA, question: object, top_k: int, match: str) -> None:
    with pytest.raises(BadInputError, match=match):
        qa.ask(question, top_k=top_k)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match=match):
        qa.search(question, top_k=top_k)  # type: ignore[arg-type]


def test_top_k_larger_than_the_corpus(qa: QA) -> None:
    answer = qa.ask("comet", top_k=100)
    assert 1 <= len(answer.citations) <= qa.info().searchable


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [
        ("Who was their quarterback?", True),
        ("What did he say?", True),
        ("And the cost?", True),
        ("Who won Super Bowl 50?", False),
        ("What did Ukraine vow to do in Bakhmut?", False),
    ],
)
def test_follow_up_detection(question: str, follow_up: bool) -> None:
    assert is_follow_up(question) is follow_up


def test_chat_resolves_a_follow_up_against_the_previous_turn(qa: QA) -> None:
    chat = qa.chat()
    first = chat.ask("When did the harbour bridge reopen?")
    assert first.citations[0].article_id == "news/harbour.txt"
    alone = qa.ask("What did they replace?")
    follow = chat.ask("What did they replace?")
    assert follow.citations[0].article_id == "news/harbour.txt"
    assert "steel cables" in follow.citations[0].sentence
    assert alone.citations[0].article_id != "news/harbour.txt" or "steel" in alone.citations[0].text
    assert len(chat.turns) == 2


def test_open_qa_switches_to_a_rebuilt_index_between_questions(
    qa: QA, articles: Path, fake_encoder: FakeEncoder
) -> None:
    assert qa.generation == "gen-000001"
    (articles / "volcano.txt").write_text(
        "Volcano erupts\n\nThe Etna volcano erupted on Sunday, closing Catania airport.\n", encoding="utf-8"
    )
    build_index(articles, "idx", encoder=fake_encoder, show_progress=False)
    answer = qa.ask("Which airport did the Etna eruption close?")
    assert qa.generation == "gen-000002"
    assert answer.citations[0].article_id == "volcano.txt"


def test_concurrent_questions_are_safe(qa: QA) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(10):
                assert qa.ask("comet Lapland").citations[0].article_id == "science.md"
        except BaseException as err:  # collected and re-raised in the main thread
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
