"""Flag paragraphs that are not the article: appeals, sign-ups, share prompts, legal lines.

Flagged paragraphs stay in the article for display but are never indexed or cited. Three
general rules, none tied to one publisher:

1. *Appeal patterns*: phrases addressed to the reader on the publisher's behalf ("support us",
   "subscribe to our newsletter", "remind me later", "all rights reserved").
2. *Blocks*: a run of paragraphs at the start or end of an article that contains an appeal and
   is otherwise written in the publisher's own voice ("we", "our", outside quotations) is one
   message, so every paragraph of it is flagged.
3. *Repetition*: a paragraph that recurs in several articles of one source is site furniture.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import replace

from qa.ingest.article import Article
from qa.ingest.headings import find_headings

_APPEALS = [
    r"\bremind me later\b",
    r"^(?:an? )?(?:important )?message from\b.{0,80}$",
    r"^dear (?:readers?|subscribers?|friends|supporters|members)\b.{0,20}$",
    r"\bplease (?:support|donate|subscribe|consider|help)\b",
    r"\b(?:support|fund|back) (?:us|our (?:work|journalism|reporting|newsroom|mission))\b",
    r"\bsupport(?:ing)? (?:independent|quality|free) (?:journalism|media|press|reporting)\b",
    r"\b(?:make|making) a (?:donation|contribution|gift)\b",
    r"\b(?:donate|contribute|give) (?:now|today|here|monthly|once)\b",
    r"\bevery (?:contribution|donation|gift)\b",
    r"\byour (?:support|donation|contribution|generosity)\b",
    r"\bwe need your (?:help|support)\b",
    r"\bthank you for (?:reading|your support|supporting|standing with|being a)\b",
    # A price pitched to the reader ("from just $2 a month"), not any price ("a US$10 a week raise").
    r"\b(?:just|only|as little as)\s+(?:US)?[$€£]\s?\d+(?:\.\d\d)?\s*(?:a|per|/|each)\s*(?:month|week|year)\b",
    r"\bmonthly starting\b",
    r"\bbecome an? (?:member|subscriber|supporter|patron|donor)\b",
    r"\bsubscribe (?:now|today|here|for|to (?:our|the|this) (?:newsletter|channel|podcast))\b",
    r"\bsign up (?:for|to) (?:our|the|a) (?:free )?(?:\w+ )?(?:newsletter|briefing|email|digest)",
    r"\b(?:our|free|daily|weekly) newsletter\b",
    r"\b(?:share|follow) (?:this (?:article|story|post)|us)(?: on)?\b",
    r"\bclick here\b|\bread (?:more|next|the full story)\s*[:›»>]",
    # A "read more" box: a pointer to another story, not this one's text.
    r"^(?:related(?: (?:story|stories|articles?|coverage|content|reading))?|see also|also read|read also|"
    r"more on this(?: story)?|more coverage|further reading)\s*[:›»>|–—-]",
    r"^(?:©|\(c\)\s*\d{4}|copyright\b)|\ball rights reserved\b",
    r"\bwe use cookies\b|\bcookie (?:policy|settings|preferences)\b|\baccept (?:all )?cookies\b",
    r"^(?:advertisement|sponsored(?: content)?|related(?: articles| stories| coverage)?|"
    r"most read|recommended|see also|more from \w+|trending now)\W*$",
    r"\b(?:already a subscriber|log ?in to continue|subscribe to continue reading)\b",
]
# Every pattern starts at a word boundary or the start: saying so once up front lets the engine
# skip the positions inside words without trying each pattern there (same matches, ~2x faster;
# this test ran on every paragraph of every build and was most of reading a corpus).
_APPEAL = re.compile(r"(?:\b|^)(?:" + "|".join(f"(?:{p})" for p in _APPEALS) + ")", re.IGNORECASE)
_PUBLISHER_VOICE = re.compile(r"\b(?:we|our|us|we're|we've)\b", re.IGNORECASE)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”")
LONG_PARAGRAPH_WORDS = 80
MIN_REPEATS = 3


def _appeal_count(text: str) -> int:
    return len(_APPEAL.findall(text))


def _publisher_voice(text: str) -> bool:
    """Two or more first-person plurals outside quotations: the outlet speaking, not a source."""
    return len(_PUBLISHER_VOICE.findall(_QUOTED.sub(" ", text))) >= 2


def _is_appeal(text: str) -> bool:
    hits = _appeal_count(text)
    return hits >= 2 or (hits == 1 and len(text.split()) <= LONG_PARAGRAPH_WORDS)


def flag_article(texts: Sequence[str]) -> list[str | None]:
    """The reason each paragraph is boilerplate, or None, using rules 1 and 2."""
    reasons: list[str | None] = ["appeal to readers" if _is_appeal(t) else None for t in texts]

    def extend_block(indexes: range) -> None:
        block: list[int] = []
        for i in indexes:
            if reasons[i] is None and not _publisher_voice(texts[i]):
                break
            block.append(i)
        if any(reasons[i] for i in block):
            for i in block:
                reasons[i] = reasons[i] or "part of a message to readers"

    extend_block(range(len(texts) - 1, -1, -1))  # trailing appeal block
    extend_block(range(len(texts)))  # leading appeal block
    return reasons


def _source_of(article: Article) -> str:
    """Articles of one source: same site when the URL is known, else the same folder."""
    if article.url and "://" in article.url:
        return article.url.split("://", 1)[1].split("/", 1)[0].lower()
    folder, _, _ = article.source_path.rpartition("/")  # PurePosixPath's parent, without the parsing
    return folder or "."


REPEATED = "repeated in"  # how rule 3's reasons start


def own_flag(reason: str | None) -> str | None:
    """The part of a stored flag that rules 1-2 gave (rule 3 depends on the rest of the corpus)."""
    return None if reason is None or reason.startswith(REPEATED) else reason


def flag_corpus(
    articles: Sequence[Article], own_flags_known: AbstractSet[str] = frozenset()
) -> list[Article]:
    """Apply all three rules to a corpus, then mark subheadings; returns the flagged articles.

    Articles whose ids are in ``own_flags_known`` come from an earlier build with the flags of
    rules 1-2 already on their paragraphs: only rule 3 and headings are worked out again (the
    appeal patterns were 90% of a no-change rebuild).
    """
    # Each paragraph's normalised text once, kept as a hash: the strings of a million
    # paragraphs would cost hundreds of MB, and normalising twice was a third of a no-change build.
    keys: list[list[int]] = []
    sources = [_source_of(article) for article in articles]
    seen: dict[tuple[str, int], set[str]] = defaultdict(set)
    for article, source in zip(articles, sources, strict=True):
        text = article.text
        # normalised: lower case, whitespace runs as one space
        hashes = [hash(" ".join(text[p.start : p.end].lower().split())) for p in article.paragraphs]
        keys.append(hashes)
        for h in hashes:
            seen[(source, h)].add(article.id)

    flagged: list[Article] = []
    for article, hashes, source in zip(articles, keys, sources, strict=True):
        known = article.id in own_flags_known
        texts = [p.text_of(article) for p in article.paragraphs]
        reasons = [own_flag(p.boilerplate) for p in article.paragraphs] if known else flag_article(texts)
        for i, h in enumerate(hashes):
            repeats = len(seen[(source, h)])
            if reasons[i] is None and repeats >= MIN_REPEATS:
                reasons[i] = f"{REPEATED} {repeats} articles of this source"
        headings = find_headings(texts, [r is not None for r in reasons])
        if all(
            p.boilerplate == r and p.heading == h
            for p, r, h in zip(article.paragraphs, reasons, headings, strict=True)
        ):
            flagged.append(article)  # a reused article whose flags stand: no copies
            continue
        paragraphs = tuple(
            replace(p, boilerplate=reason, heading=heading)
            for p, reason, heading in zip(article.paragraphs, reasons, headings, strict=True)
        )
        flagged.append(article.with_paragraphs(paragraphs))
    return flagged
