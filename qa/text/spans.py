"""Paragraph and sentence splitting that keeps exact character offsets into the source text."""

from __future__ import annotations

import re

Span = tuple[int, int]

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
# Trimmed from span edges: whitespace, no-break spaces and the byte-order mark.
TRIM = " \t\r\n\f\v\ufeff\u00a0"


def trim(text: str, start: int, end: int) -> Span:
    """Shrink ``text[start:end]`` past leading and trailing whitespace."""
    while start < end and text[start] in TRIM:
        start += 1
    while end > start and text[end - 1] in TRIM:
        end -= 1
    return start, end


def has_blank_line(text: str, start: int = 0, end: int | None = None) -> bool:
    return _BLANK_LINE.search(text, start, len(text) if end is None else end) is not None


def split_paragraphs(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Paragraph spans in ``text[start:end]``.

    Paragraphs are separated by blank lines; a region with no blank line at all has one
    paragraph per line (the way many scraped news files are written).
    """
    end = len(text) if end is None else end
    separator = _BLANK_LINE if has_blank_line(text, start, end) else re.compile(r"\n")
    spans: list[Span] = []
    cursor = start
    for match in separator.finditer(text, start, end):
        spans.append(trim(text, cursor, match.start()))
        cursor = match.end()
    spans.append(trim(text, cursor, end))
    return [(s, e) for s, e in spans if e > s]


# Words that end with a period without ending a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "gov",
        "sen",
        "rep",
        "rev",
        "hon",
        "pres",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "univ",
        "no",
        "vol",
        "fig",
        "approx",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ft",
        "e.g",
        "i.e",
        "al",
        "u.s",
        "u.k",
        "u.n",
        "a.m",
        "p.m",
    ]
)
# Only from the start of a run of marks, taken whole (possessive): a run not followed by a space
# is then rejected once, not once per mark (which made "....." thousands long quadratic).
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]++[\"'”’)\]]*+(?=\s)")
_NEXT_START = re.compile(r"\s+[\"'“‘(\[]*[A-Z0-9À-Ý]")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans inside ``text[start:end]`` (rule-based, abbreviation aware).

    A line break always ends a sentence, so headings and list items stay apart.
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    line_start = start
    while line_start < end:
        newline = text.find("\n", line_start, end)
        line_end = end if newline < 0 else newline
        spans.extend(_sentences_in_line(text, line_start, line_end))
        line_start = line_end + 1
    return spans


def _sentences_in_line(text: str, start: int, end: int) -> list[Span]:
    spans: list[Span] = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if not _NEXT_START.match(text, match.end(), end):
            continue
        word_start = match.start()
        while word_start > cursor and not text[word_start - 1].isspace():
            word_start -= 1
        word = text[word_start : match.start()].lower().lstrip("\"'“‘([")
        if text[match.start()] == "." and (word in _ABBREVIATIONS or len(word) == 1):
            continue  # "Mr. Smith", "U.S. troops", "J. Doe"
        spans.append(trim(text, cursor, match.end()))
        cursor = match.end()
    spans.append(trim(text, cursor, end))
    return [(s, e) for s, e in spans if e > s]
