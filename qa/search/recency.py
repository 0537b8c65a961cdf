"""A recency prior for questions about the present, relative to the moment they are asked.

"How many people have died?" asked of a week of storm coverage wants the latest count, not the
first; "How many people died on the first night?" does not care which story says it. So the
prior applies only to questions about the present, by rules you can read here:

- words that name the present or the latest: now, today, tonight, currently, current, latest,
  so far, still, yet, at the moment, these days, this week/month/year, recent(ly), newest;
- the present perfect ("has risen", "have died", "has X said"): the state of things up to now;
- "who is/are ...": a role as it stands ("Who is the mayor?");
- "how many/much/far/full/long ... is/are/has ...": an amount as it stands ("How full is the
  reservoir?", "How much water is left?");
- "who won ..." with no year: the latest edition of a contest ("Who won the Stanley Cup?");
- the simple present: "is", "are", "does", "do" ("Where is the summit held?", "What does a ticket
  cost?"), or a verb in -s right after "who", "which team" or "what company" ("Who leads the
  league?", "Which club holds the record?"): how things stand, not only when a keyword says so.

Past-tense questions ("did", "was", "were", "happened") and questions naming a date get none.
The prior is a bonus on the ranking's fitted scale that halves every HALF_LIFE_DAYS an article
is older than the newest candidate (every candidate is published by ``as_of``, so "newest" is
as of then); undated articles get none. Fitted on bench/news.py (ten running stories, 60
questions asked as of a date), sweeping weight x half-life on each half of the stories: from
weight 2 up, the right week's story comes first for every question of either half; 2.0 is the
smallest such weight (what 0.32 of cosine similarity is worth; the dense weight is 6.2). On the
sample corpus's news questions it changes no hit@1 (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from qa.search.scope import moment_of

RECENCY_WEIGHT = 2.0
HALF_LIFE_DAYS = 7.0  # news moves in weekly cycles; 3.5 and 7 fit alike, 14 is worse (bench/news.py)
_PRESENT_WORDS = re.compile(
    r"(?i)\b(now|nowadays|today|tonight|currently|current|latest|newest|so far|still|yet|"
    r"at the moment|at present|these days|this (?:week|month|year|morning|evening)|recent(?:ly)?|"
    r"as it stands|up to date)\b"
)
_PRESENT_PERFECT = re.compile(
    r"(?i)\b(has|have|hasn't|haven't)\b(?:\s+[\w']+){0,6}?\s+\w+(?:ed|en|wn|ne|un|ught|id|lt)\b"
)
_AMOUNT_NOW = re.compile(
    r"(?i)^\s*how\s+(many|much|far|full|long|big|large|high|low)\b.*\b(is|are|remains?|left)\b"
)
_ROLE_NOW = re.compile(r"(?i)^\s*who\s+(is|are|'s)\b")
_SIMPLE_PRESENT = re.compile(
    r"(?i)\b(is|are|isn't|aren't|does|do|doesn't|don't)\b"
    r"|^\s*(?:who|which\s+\w+|what\s+\w+)\s+(?!was\b|has\b|does\b|is\b)[a-z]+[^s\W]s\b"
)
_LATEST_WINNER = re.compile(r"(?i)\b(who|which \w+)\s+(won|wins|is winning)\b")
_YEAR = re.compile(r"\b(1[89]|20)\d\d\b")
_PAST = re.compile(
    r"(?i)\b(did|was|were|happened|ago|last (?:week|month|year)|yesterday|in \d{4}|on \w+day)\b"
)


def about_the_present(question: str) -> bool:
    """Whether ``question`` asks how things stand now (see the module's rules)."""
    if _PRESENT_WORDS.search(question):
        return True
    if _LATEST_WINNER.search(question) and not _YEAR.search(question):
        return True
    if _PAST.search(question):
        return False
    if _YEAR.search(question):
        return False  # "What is the 2024 budget?" names its time
    return bool(
        _PRESENT_PERFECT.search(question)
        or _ROLE_NOW.search(question)
        or _AMOUNT_NOW.search(question)
        or _SIMPLE_PRESENT.search(question)
    )


def newest_moment(published: Iterable[str | None]) -> float | None:
    """The latest of these publication dates, as seconds since the epoch (None if none is dated)."""
    moments = [m for m in map(moment_of, published) if m is not None]
    return max(moments) if moments else None


def recency_bonus(published: str | None, newest: float) -> float:
    """RECENCY_WEIGHT for an article as new as ``newest``, halving every HALF_LIFE_DAYS older."""
    moment = moment_of(published)
    if moment is None:
        return 0.0
    age_days = max(0.0, (newest - moment) / 86400.0)
    return float(RECENCY_WEIGHT * 0.5 ** (age_days / HALF_LIFE_DAYS))
