"""Answers, sources and articles as safe HTML/Markdown for the chat page.

Article text is untrusted: every character that HTML or Markdown could read as markup becomes a
numeric character reference, which both show as the character itself. So an apostrophe reads as
an apostrophe, ``<script>`` as text, and ``[x](javascript:...)`` never becomes a link.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence

from qa.results import Answer, ArticleSummary, ArticleView, Citation, IndexInfo
from qa.search.scope import source_site

# HTML's own specials, Markdown's punctuation, "$" (LaTeX) and ":" (bare URLs become links).
_MARKUP_CHARS = frozenset("&<>\"'\\`*_{}[]()#+-.!|~$:=")
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)
_MARKER = re.compile(r"\[(\d+)\]")

EMPTY_SOURCES = '<p class="qa-empty">Ask a question: the passages that answer it appear here.</p>'
EMPTY_ARTICLE = '<p class="qa-empty">Open a source to read the whole article here.</p>'


def escape_text(text: str) -> str:
    """Text that HTML and Markdown both show literally: no tags, links, images, maths or lists."""
    return "".join(f"&#{ord(c)};" if c in _MARKUP_CHARS else c for c in text)


def attribute(text: str) -> str:
    """A value for a double-quoted HTML attribute."""
    return html.escape(text, quote=True)


def safe_url(url: str | None) -> str | None:
    """Only plain http(s) links; ``javascript:``, ``data:`` and the rest are dropped."""
    return url if url and _SAFE_URL.match(url) else None


def site_of(article_id: str, url: str | None) -> str | None:
    """Where an article comes from: its web site, else the folder it was read from."""
    return source_site(article_id, safe_url(url))


def day_of(published: str | None) -> str | None:
    """The day of an ISO 8601 date or date-time, as shown on cards ("2026-03-23")."""
    return published[:10] if published else None


def cited_numbers(answer: Answer) -> set[int]:
    """The citation numbers the short answer actually uses."""
    return {int(n) for n in _MARKER.findall(answer.text)}


def card_id(turn: int, number: int) -> str:
    return f"qa-src-{turn}-{number}"


def _marker_link(turn: int, number: int) -> str:
    return f'<a class="qa-ref" href="#{card_id(turn, number)}" title="Show source {number}">[{number}]</a>'


def answer_markdown(answer: Answer, turn: int) -> str:
    """The chat reply: the short answer first, its ``[n]`` markers linking to their cards."""
    if answer.abstained:
        body = (
            '<span class="qa-notfound">Not found in the articles.</span> '
            "No passage answers this with confidence; the closest matches are listed under Sources."
        )
    else:
        pieces = _MARKER.split(answer.text)  # text, number, text, number, ...
        body = "".join(
            escape_text(piece) if i % 2 == 0 else _marker_link(turn, int(piece))
            for i, piece in enumerate(pieces)
        )
    lines = [body]
    if answer.resolved_query != answer.question:
        lines.append(f'<span class="qa-searched">Searched as: “{escape_text(answer.resolved_query)}”</span>')
    return "\n\n".join(lines)


def question_markdown(question: str) -> str:
    return escape_text(question)


def _meta(parts: Sequence[str | None]) -> str:
    return " · ".join(escape_text(p) for p in parts if p)


def _open_payload(c: Citation) -> str:
    return json.dumps({"key": c.passage_key, "start": c.sentence_start, "end": c.sentence_end})


def citation_card(c: Citation, turn: int, cited: bool) -> str:
    """One source card; only a cited passage gets its answering sentence highlighted."""
    before = escape_text(c.text[: c.sentence_start - c.start])
    sentence = escape_text(c.sentence)
    after = escape_text(c.text[c.sentence_end - c.start :])
    shown = f"<mark>{sentence}</mark>" if cited else f'<span class="qa-sentence">{sentence}</span>'
    meta = _meta(
        [
            site_of(c.article_id, c.url),
            day_of(c.published),
            f"paragraph {c.paragraph}",
            f"p. {c.page}" if c.page else None,
            c.section and f"under “{c.section}”",
        ]
    )
    url = safe_url(c.url)
    original = (
        f' <a class="qa-original" href="{attribute(url)}" target="_blank" rel="noopener noreferrer">'
        "Open original</a>"
        if url
        else ""
    )
    details = [
        f"score {c.score:.2f}",
        f"reader: answers with probability {c.confidence:.0%}" if c.confidence is not None else None,
        f"file {c.source_path}",
        f"key {c.passage_key}",
    ]
    # Syndicated copies and identical paragraphs elsewhere: cited once, the others named.
    also = (
        f'<p class="qa-also">Also published in: {escape_text(", ".join(c.also_in))}</p>' if c.also_in else ""
    )
    kind = "qa-cited" if cited else "qa-other"
    return (
        f'<article class="qa-card {kind}" id="{card_id(turn, c.number)}">'
        f'<div class="qa-card-head"><span class="qa-num">[{c.number}]</span> '
        f'<span class="qa-title">{escape_text(c.title)}</span></div>'
        f'<div class="qa-meta">{meta}</div>'
        f'<p class="qa-passage">{before}{shown}{after}</p>{also}'
        f'<div class="qa-actions"><button type="button" class="qa-open" data-open="{attribute(_open_payload(c))}">'
        f"Open article</button>{original}</div>"
        f'<details class="qa-details"><summary>Details</summary>{_meta(details)}</details>'
        "</article>"
    )


def sources_html(answer: Answer | None, turn: int = 0) -> str:
    """The sources panel for one answer: the passages it cites, then quieter close matches."""
    if answer is None:
        return EMPTY_SOURCES
    used = cited_numbers(answer)
    cited = [c for c in answer.citations if c.number in used]
    others = [c for c in answer.citations if c.number not in used]
    parts = [
        f'<div class="qa-sources" data-turn="{turn}">',
        f'<p class="qa-sources-for">Sources for “{escape_text(answer.question)}”</p>',
    ]
    parts += [citation_card(c, turn, cited=True) for c in cited]
    if others:
        heading = "Other close matches" if cited else "Closest matches (none answers with confidence)"
        parts.append(f'<h4 class="qa-others">{heading}</h4>')
        parts += [citation_card(c, turn, cited=False) for c in others]
    if not answer.citations:
        parts.append('<p class="qa-empty">No passage in the index matches this question.</p>')
    parts.append("</div>")
    return "".join(parts)


def article_html(
    view: ArticleView, paragraph: int | None = None, sentence: tuple[int, int] | None = None
) -> str:
    """The whole article for the source viewer, the cited paragraph (and sentence) highlighted.

    ``sentence`` is a pair of offsets into the article's text, as a citation gives them.
    """
    url = safe_url(view.url)
    original = (
        f'<a class="qa-original" href="{attribute(url)}" target="_blank" rel="noopener noreferrer">Open original</a>'
        if url
        else ""
    )
    meta = _meta([site_of(view.article_id, view.url), day_of(view.published), view.byline, view.article_id])
    parts = [
        f'<div class="qa-article" data-article="{attribute(view.article_id)}">',
        f'<h3 class="qa-article-title">{escape_text(view.title)}</h3>',
        f'<div class="qa-meta">{meta} {original}</div>',
    ]
    for p in view.paragraphs:
        classes = ["qa-para"]
        if p.number == paragraph:
            classes.append("qa-target")
        if p.boilerplate:
            classes.append("qa-boilerplate")
        if p.heading:
            classes.append("qa-heading")
        text = _paragraph_text(p.text, p.start, sentence if p.number == paragraph else None)
        label = (
            f' <span class="qa-label">not article text: {escape_text(p.boilerplate)}</span>'
            if p.boilerplate
            else ""
        )
        parts.append(
            f'<p id="qa-para-{p.number}" class="{" ".join(classes)}">'
            f'<span class="qa-pnum">{p.number}</span> {text}{label}</p>'
        )
    parts.append("</div>")
    return "".join(parts)


def _paragraph_text(text: str, start: int, sentence: tuple[int, int] | None) -> str:
    if sentence is None:
        return escape_text(text)
    lo, hi = sentence[0] - start, sentence[1] - start
    if not 0 <= lo <= hi <= len(text):
        return escape_text(text)
    return f"{escape_text(text[:lo])}<mark>{escape_text(text[lo:hi])}</mark>{escape_text(text[hi:])}"


def corpus_html(info: IndexInfo) -> str:
    """What is loaded: index, counts, model, when it was built."""
    rows = [
        ("Index", f"{info.index} ({info.generation})"),
        ("Articles", f"{info.articles:,}"),
        ("Passages", f"{info.searchable:,} searchable of {info.passages:,}"),
        ("Model", info.model),
        ("Built", info.created),
    ]
    cells = "".join(f"<tr><th>{escape_text(k)}</th><td>{escape_text(v)}</td></tr>" for k, v in rows)
    return f'<table class="qa-corpus">{cells}</table>'


def article_list_html(articles: Sequence[ArticleSummary], query: str = "", limit: int = 50) -> str:
    """Articles whose title contains every word of ``query``, each with an open control."""
    words = query.lower().split()
    matching = [a for a in articles if all(w in a.title.lower() for w in words)]
    if not matching:
        return f'<p class="qa-empty">No article title contains “{escape_text(query)}”.</p>'
    items = []
    for a in matching[:limit]:
        payload = attribute(json.dumps({"article": a.article_id}))
        meta = _meta([site_of(a.article_id, a.url), day_of(a.published), f"{a.paragraphs} paragraphs"])
        items.append(
            f'<li><button type="button" class="qa-open qa-link" data-open="{payload}">'
            f'{escape_text(a.title)}</button> <span class="qa-meta">{meta}</span></li>'
        )
    more = len(matching) - limit
    tail = f'<p class="qa-meta">and {more:,} more: narrow the filter.</p>' if more > 0 else ""
    return f'<p class="qa-meta">{len(matching):,} of {len(articles):,} articles</p><ul class="qa-articles">{"".join(items)}</ul>{tail}'
