"""Subheadings inside an article body ("What happens next", "Stanley Cup Final: Avalanche vs.
Hurricanes"): short lines with no sentence ending, followed by ordinary text.

A heading is never cited on its own (every word of a question can match it while it answers
nothing); it becomes the section of the paragraphs under it, for keyword search and display.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_HEADING_WORDS = 12
MAX_HEADING_CHARS = 100
_SENTENCE_END = (".", "!", "?", "…", '."', ".”", "?”", '?"', "!”", '!"', ".'", ".’", ":")


def looks_like_heading(text: str) -> bool:
    """Short, one line, no sentence ending."""
    stripped = text.strip()
    return (
        0 < len(stripped) <= MAX_HEADING_CHARS
        and "\n" not in stripped
        and len(stripped.split()) <= MAX_HEADING_WORDS
        and not stripped.endswith(_SENTENCE_END)
    )


def find_headings(texts: Sequence[str], skip: Sequence[bool]) -> list[bool]:
    """Which paragraphs are headings: heading-like and followed by a paragraph that is not.

    ``skip`` marks paragraphs that take no part (boilerplate). A heading-like last line, or a
    run of heading-like lines with nothing under them, stays ordinary text.
    """
    kept = [i for i in range(len(texts)) if not skip[i]]
    heading = [False] * len(texts)
    for position, i in enumerate(kept[:-1]):
        following = kept[position + 1]
        if looks_like_heading(texts[i]) and not looks_like_heading(texts[following]):
            heading[i] = True
    return heading
