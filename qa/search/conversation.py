"""Follow-up questions: resolve "Who was their quarterback?" against the turns before it.

Without a language model, a follow-up is recognised by its references to something said before
(pronouns, "the same", very short questions with no name of their own). It is then searched as
the earlier question together with the new one (``Answer.resolved_query``), and the articles the
previous answer cited are favoured.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from qa.results import Answer

_REFERENCES = re.compile(
    r"\b(?:he|him|his|she|her|hers|it|its|they|them|their|theirs|this|that|these|those|there|"
    r"then|the same|the other|that one|also|too|else|more|former|latter|next)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z]+|\b[A-Z]{2,}\b|\d")
SHORT_QUESTION_WORDS = 4


def is_follow_up(question: str) -> bool:
    text = question.strip()
    if _REFERENCES.search(text):
        return True
    return len(text.split()) <= SHORT_QUESTION_WORDS and not _NAME.search(text)


class Asks(Protocol):
    """What a conversation needs from :class:`qa.QA`."""

    def ask(
        self,
        question: str,
        top_k: int = 5,
        *,
        context: str | None = None,
        prefer_articles: tuple[str, ...] = (),
        as_of: object = None,
        since: object = None,
        until: object = None,
        sources: Iterable[str] | str | None = None,
        min_confidence: float | None = None,
    ) -> Answer: ...


@dataclass(frozen=True)
class Turn:
    question: str
    context: str  # the question as retrieval saw it, with what it was resolved against
    answer: Answer


@dataclass
class Chat:
    """A conversation over one index; each ``ask`` may refer back to the turns before it."""

    qa: Asks
    turns: list[Turn] = field(default_factory=list)

    def ask(
        self,
        question: str,
        top_k: int = 5,
        *,
        as_of: object = None,
        since: object = None,
        until: object = None,
        sources: Iterable[str] | str | None = None,
        min_confidence: float | None = None,
    ) -> Answer:
        """The next turn; ``as_of``, ``since``, ``until``, ``sources`` and ``min_confidence`` as
        for :meth:`qa.QA.ask`."""
        scope: dict[str, Any] = {"as_of": as_of, "since": since, "until": until, "sources": sources}
        if min_confidence is not None:  # passed only when set: an ``Asks`` without it still works
            scope["min_confidence"] = min_confidence
        previous = self.turns[-1] if self.turns else None
        if previous is not None and is_follow_up(question):
            cited = tuple(dict.fromkeys(c.article_id for c in previous.answer.citations[:2]))
            answer = self.qa.ask(
                question, top_k=top_k, context=previous.context, prefer_articles=cited, **scope
            )
        else:
            answer = self.qa.ask(question, top_k=top_k, **scope)
        self.turns.append(Turn(question=question, context=answer.resolved_query, answer=answer))
        return answer
