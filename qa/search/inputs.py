"""What a question and its options may be: checked once, with messages that say how to fix them.

Shared by the Python API, the command line and the web chat, so each refuses the same input the
same way (and the command line before the model loads).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from qa.errors import BadInputError
from qa.search.scope import Scope

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 100
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise BadInputError(f"A question must be text, not {type(question).__name__}.")
    text = question.strip()
    if not text:
        raise BadInputError("The question is empty. Type a question about the articles.")
    if _LONE_SURROGATE.search(text):  # undecodable bytes from a terminal: no model or file can take them
        raise BadInputError(
            "The question holds bytes that are not valid text (not UTF-8). Type it again as plain text."
        )
    if len(text) > MAX_QUESTION_CHARS:
        raise BadInputError(
            f"The question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
            "Ask the question itself, not a whole document."
        )
    return text


def check_scope(
    as_of: object = None,
    since: object = None,
    until: object = None,
    sources: Iterable[str] | str | None = None,
) -> None:
    """Raise BadInputError unless the date and source options are usable (see :meth:`QA.ask`)."""
    Scope.make(as_of, since, until, sources)


def check_min_confidence(value: object) -> float | None:
    """None (the reader version's own threshold) or a probability from 0 to 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise BadInputError(
            f"min_confidence is the reader's probability that the articles answer, from 0 to 1 "
            f"(e.g. 0.8 to answer only when it is fairly sure), got {value!r}."
        )
    return float(value)


def check_top_k(top_k: object) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise BadInputError(f"top_k must be a whole number from 1 to {MAX_TOP_K}, got {top_k!r}.")
    return top_k
