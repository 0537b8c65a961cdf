from __future__ import annotations

import pytest

from qa.text.spans import split_paragraphs, split_sentences


def test_blank_lines_separate_paragraphs_with_exact_offsets() -> None:
    text = "Title\n\n  First para\nstill first.  \n\n\nSecond para.\n"
    spans = split_paragraphs(text)
    assert [text[s:e] for s, e in spans] == ["Title", "First para\nstill first.", "Second para."]


def test_without_blank_lines_each_line_is_a_paragraph() -> None:
    text = "One line.\nTwo line.\r\nThree.\n"
    assert [text[s:e] for s, e in split_paragraphs(text)] == ["One line.", "Two line.", "Three."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        (
            "A U.S.-based institute said so. Then it ended.",
            ["A U.S.-based institute said so.", "Then it ended."],
        ),
        (
            'He said "Bakhmut will fall." Others disagreed.',
            ['He said "Bakhmut will fall."', "Others disagreed."],
        ),
        ("It cost 4.5 million. Nobody paid.", ["It cost 4.5 million.", "Nobody paid."]),
        ("Troops of the U.S. Army left. J. Doe stayed.", ["Troops of the U.S. Army left.", "J. Doe stayed."]),
        ("No end punctuation", ["No end punctuation"]),
        ("Line one\nLine two.", ["Line one", "Line two."]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert [text[s:e] for s, e in split_sentences(text)] == expected


def test_sentence_offsets_are_absolute() -> None:
    text = "Intro.\n\nFirst one. Second one."
    start = text.index("First")
    spans = split_sentences(text, start, len(text))
    assert [text[s:e] for s, e in spans] == ["First one.", "Second one."]
    assert spans[0][0] == start
