"""Turn answers into safe HTML/Markdown for the chat. Article text is untrusted: escape it all."""

from __future__ import annotations

import html
import re

from qa.results import Answer, Citation

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """Text that Markdown shows literally and HTML cannot run: no tags, links or images."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=True))


def safe_url(url: str | None) -> str | None:
    """Only plain http(s) links; ``javascript:``, ``data:`` and the rest are dropped."""
    return url if url and _SAFE_URL.match(url) else None


def answer_markdown(answer: Answer) -> str:
    """The chat message: the short answer, then one line per cited source."""
    body = escape_markdown(answer.text)
    # Restore our own [n] markers after escaping turned them into \[n\].
    body = re.sub(r"\\\[(\d+)\\\]", r"[\1]", body)
    lines = [body, ""]
    label = "Closest matches" if answer.abstained else "Sources"
    lines.append(f"**{label}:**")
    for c in answer.citations[:5]:
        lines.append(f"- [{c.number}] {escape_markdown(c.title)}, paragraph {c.paragraph}")
    return "\n".join(lines)


def citation_html(c: Citation) -> str:
    """One cited passage with the answering sentence highlighted."""
    before = c.text[: c.sentence_start - c.start]
    after = c.text[c.sentence_end - c.start :]
    url = safe_url(c.url)
    source = html.escape(c.source_path)
    link = (
        f' · <a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">open source</a>'
        if url
        else ""
    )
    return (
        f'<div class="qa-citation" data-number="{c.number}">'
        f'<div class="qa-citation-head"><b>[{c.number}] {html.escape(c.title)}</b> — '
        f"paragraph {c.paragraph} · <code>{source}</code>{link} · score {c.score:.2f}</div>"
        f'<p class="qa-passage">{html.escape(before)}<mark>{html.escape(c.sentence)}</mark>'
        f"{html.escape(after)}</p></div>"
    )


def sources_html(answer: Answer | None) -> str:
    if answer is None:
        return '<p class="qa-empty">Cited passages appear here.</p>'
    heading = "Closest matches (no confident answer)" if answer.abstained else "Cited passages"
    items = "".join(citation_html(c) for c in answer.citations)
    return f'<div class="qa-sources"><h3>{heading}</h3>{items}</div>'
