"""Turn answers into safe HTML/Markdown for the chat. Article text is untrusted: escape it all."""

from __future__ import annotations

import html
import re

from qa.results import Answer, Citation

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>]+$", re.IGNORECASE)


def escape_markdown(text: str) -> str:
    """Text that Markdown shows literally and HTML cannot run: no tags, links or images."""
    escaped = _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(text, quote=True))
    # Markdown turns bare URLs into links even with every special character escaped: an entity
    # for the scheme's colon keeps them text.
    return escaped.replace("://", "&#58;//")


def safe_url(url: str | None) -> str | None:
    """Only plain http(s) links; ``javascript:``, ``data:`` and the rest are dropped."""
    return url if url and _SAFE_URL.match(url) else None


def cited_numbers(answer: Answer) -> set[int]:
    """The citation numbers the short answer actually uses."""
    return {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}


def answer_markdown(answer: Answer) -> str:
    """The chat message: the short answer, then the sources it uses (or the closest matches)."""
    body = escape_markdown(answer.text)
    # Restore our own [n] markers after escaping turned them into \[n\].
    body = re.sub(r"\\\[(\d+)\\\]", r"[\1]", body)
    used = cited_numbers(answer)
    shown = [c for c in answer.citations if c.number in used] if used else list(answer.citations[:3])
    label = "Sources" if used else "Closest matches"
    lines = [body, "", f"**{label}:**"]
    lines += [f"- [{c.number}] {escape_markdown(c.title)}, paragraph {c.paragraph}" for c in shown]
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
    """The sources panel: passages the answer cites, then the other close matches."""
    if answer is None:
        return '<p class="qa-empty">Cited passages appear here.</p>'
    used = cited_numbers(answer)
    cited = [c for c in answer.citations if c.number in used]
    others = [c for c in answer.citations if c.number not in used]
    parts = ['<div class="qa-sources">']
    if cited:
        parts += ["<h3>Cited in the answer</h3>", *map(citation_html, cited)]
    if others:
        heading = "Other close matches" if cited else "Closest matches (no confident answer)"
        parts += [f"<h3>{heading}</h3>", *map(citation_html, others)]
    parts.append("</div>")
    return "".join(parts)
