"""One browser session's conversation, independent of Gradio: asking, history, examples.

The page keeps a list of :class:`Entry` (one per question asked) in its session state; the chat
bubbles, the sources panel, feedback and export are all derived from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qa.errors import QAError
from qa.results import Answer, ArticleSummary
from qa.search.conversation import Asks, Chat, Turn
from qa.search.inputs import MAX_QUESTION_CHARS, check_scope
from qa.search.scope import source_site
from qa.web.render import answer_markdown, question_markdown

Message = dict[str, Any]
LOADING_TEXT = "Loading the model… (only after a start; your question is answered as soon as it is ready)"
READING_TEXT = "Reading the articles…"
EXAMPLE_COUNT = 4


@dataclass(frozen=True)
class Entry:
    """One question in the chat and what came of it: an answer, or an error to show."""

    question: str
    answer: Answer | None = None
    error: str | None = None


def input_problem(message: object) -> str | None:
    """Why a question cannot be asked as typed (shown beside the box; nothing is cut), or None."""
    text = message.strip() if isinstance(message, str) else ""
    if not text:
        return "Type a question first."
    if len(text) > MAX_QUESTION_CHARS:
        return (
            f"The question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
            "Shorten it to the question itself: nothing was sent."
        )
    return None


def scope_of(as_of: object, since: object, until: object, sources: object) -> dict[str, Any]:
    """The page's date and source fields as ask() keywords: blanks mean "not set"."""

    def day(value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    names = [s for s in sources if isinstance(s, str)] if isinstance(sources, list | tuple) else []
    return {"as_of": day(as_of), "since": day(since), "until": day(until), "sources": names or None}


def scope_problem(scope: dict[str, Any]) -> str | None:
    """Why the date and source fields cannot be used (shown beside the box), or None."""
    try:
        check_scope(**scope)
    except QAError as err:
        return str(err)
    return None


def source_choices(articles: Sequence[ArticleSummary]) -> list[str]:
    """What the source picker offers: every article's site (URL host) or folder, once."""
    return sorted({s for a in articles if (s := source_site(a.article_id, a.url))})


def turns_of(entries: Sequence[Entry]) -> list[Turn]:
    return [Turn(e.question, e.answer.resolved_query, e.answer) for e in entries if e.answer is not None]


def ask(qa: Asks, question: str, entries: Sequence[Entry], scope: dict[str, Any] | None = None) -> Entry:
    """Ask ``question`` as the next turn of the conversation in ``entries``; ``scope``: the
    page's as_of, since, until and sources (see :meth:`qa.QA.ask`)."""
    chat = Chat(qa, turns=turns_of(entries))
    try:
        return Entry(question, answer=chat.ask(question.strip(), **(scope or {})))
    except QAError as err:
        return Entry(question, error=str(err))


def messages(entries: Sequence[Entry]) -> list[Message]:
    """The chat bubbles: a user and an assistant message per entry (entry k -> messages 2k, 2k+1)."""
    history: list[Message] = []
    for turn, e in enumerate(entries):
        history.append({"role": "user", "content": question_markdown(e.question)})
        history.append({"role": "assistant", "content": reply_markdown(e, turn)})
    return history


def reply_markdown(entry: Entry, turn: int) -> str:
    if entry.answer is not None:
        return answer_markdown(entry.answer, turn)
    return f'<span class="qa-error">⚠️ {question_markdown(entry.error or "No answer.")}</span>'


def entry_of_message(entries: Sequence[Entry], message_index: int) -> Entry | None:
    """The entry an assistant bubble belongs to (the like button reports the bubble's index)."""
    turn, role = divmod(message_index, 2)
    return entries[turn] if role == 1 and 0 <= turn < len(entries) else None


def example_questions(articles: Sequence[ArticleSummary], count: int = EXAMPLE_COUNT) -> list[str]:
    """Questions about the loaded index, drawn from its article titles (newest dated first)."""
    dated = sorted((a for a in articles if a.published), key=lambda a: a.published or "", reverse=True)
    undated = [a for a in articles if not a.published]
    picked: list[str] = []
    for a in [*dated, *_spread(undated, count)]:
        title = a.title.strip().rstrip(".")
        if title and len(title) <= 90 and title not in picked:
            picked.append(title)
        if len(picked) == count:
            break
    return [f"What is “{t}” about?" for t in picked]


def _spread(items: Sequence[ArticleSummary], count: int) -> list[ArticleSummary]:
    """``count`` items spread evenly over ``items`` (so examples are not all from one folder)."""
    if len(items) <= count:
        return list(items)
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]
