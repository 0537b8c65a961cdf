"""Reader for RSS and Atom feed files (.rss, .atom, and .xml whose root is a feed): feedparser.

One article per entry: its title, link, author and date; its text from the entry's content, or
else its summary, HTML turned into paragraphs. An entry with no text is skipped with a reason;
the other entries are kept.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from qa.ingest.article import Article, make_paragraphs
from qa.ingest.dates import parse_published, published_or_warn
from qa.ingest.decode import byte_order_mark, decode_text
from qa.ingest.errors import UnreadableFileError
from qa.text.spans import TRIM, split_paragraphs

logger = logging.getLogger(__name__)

_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]")
_DECLARED_ENCODING = re.compile(r"""\A(\s*<\?xml[^>]*?\bencoding\s*=\s*)["'][^"']*["']""")
# Elements that make a paragraph of their own in an entry's HTML.
_BLOCKS = frozenset("p li h1 h2 h3 h4 h5 h6 blockquote pre dd dt figcaption tr".split())
# Elements whose start and end break the text around them into separate paragraphs.
_CONTAINERS = frozenset("div ul ol dl section article table header footer figure".split())


def is_feed(data: bytes) -> bool:
    """Whether XML bytes are an RSS or Atom feed (its root element, in the first few KB)."""
    head = data[:8192]
    if marked := byte_order_mark(head):  # UTF-16/32 too: look at the characters, not the bytes
        bom, encoding = marked
        head = head[len(bom) :].decode(encoding, "ignore").encode("utf-8")
    head = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head, flags=re.S)
    return bool(_FEED_ROOT.match(head.lstrip()))


def html_paragraphs(markup: str) -> list[str]:
    """The paragraphs of an HTML fragment: one per block element, or per blank line in plain text."""
    if "<" not in markup:
        return [markup[s:e] for s, e in split_paragraphs(markup)]
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except Exception:  # lxml raises several types on broken markup; treat it as text
        return [markup[s:e] for s, e in split_paragraphs(re.sub(r"<[^>]+>", " ", markup))]
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for br in root.iter("br"):  # a line break: two in a row separate paragraphs
        br.tail = "\n" + (br.tail or "")
    out: list[str] = []
    loose: list[str] = []  # inline text between blocks

    def flush() -> None:
        text = "".join(loose)
        out.extend(text[s:e] for s, e in split_paragraphs(text))
        loose.clear()

    def walk(element: Any) -> None:
        if element.tag in _BLOCKS:
            flush()
            out.append(element.text_content())
        else:
            breaks = element.tag in _CONTAINERS
            if breaks:
                flush()
            loose.append(element.text or "")
            for child in element:
                walk(child)
            if breaks:
                flush()
        loose.append(element.tail or "")

    walk(root)
    flush()
    cleaned = (" ".join(p.split()).strip(TRIM) for p in out)
    return [p for p in cleaned if p]


def _entry_text(entry: Any) -> str:
    for content in entry.get("content") or []:
        if content.get("value", "").strip():
            return str(content["value"])
    return str(entry.get("summary") or "")


def read_feed(data: bytes, rel_path: str) -> tuple[list[Article], list[str]]:
    """Articles of the feed's entries and a reason for each entry that could not be used."""
    import feedparser

    if not is_feed(data):
        raise UnreadableFileError("not an RSS or Atom feed (the root element is not rss, feed or rdf:RDF)")
    if (marked := byte_order_mark(data)) and marked[1] != "utf-8":
        # feedparser's expat reads UTF-16/32 badly: hand it UTF-8, declared as such.
        text = _DECLARED_ENCODING.sub(r'\1"utf-8"', decode_text(data), count=1)
        data = text.encode("utf-8")
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    entries = parsed.get("entries") or []
    if not entries:
        reason = f" ({parsed.get('bozo_exception')})" if parsed.get("bozo") else ""
        raise UnreadableFileError(f"feed has no entries{reason}")
    source = str(parsed.get("feed", {}).get("title") or rel_path)
    articles: list[Article] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        title = " ".join(str(entry.get("title") or "").split())
        label = f"entry {number}" + (f" ({title[:60]})" if title else "")
        paragraphs = html_paragraphs(_entry_text(entry))
        if not paragraphs:
            problems.append(f"{label}: no text in its content or summary")
            continue
        key = str(entry.get("id") or entry.get("link") or number)
        if key in seen:
            key = f"{key}-{number}"
        seen.add(key)
        text = "\n\n".join(paragraphs)
        spans, position = [], 0
        for paragraph in paragraphs:
            spans.append((position, position + len(paragraph)))
            position += len(paragraph) + 2
        raw_date = entry.get("published") or entry.get("updated")
        # The entry's own text keeps its time zone; feedparser's parsed tuple is UTC.
        published = parse_published(raw_date) or published_or_warn(
            entry.get("published_parsed") or entry.get("updated_parsed") or raw_date, f"{rel_path} {label}"
        )
        articles.append(
            Article(
                id=f"{rel_path}#{key}",
                title=title or f"{source} {label}",
                text=text,
                source_path=rel_path,
                url=str(entry.get("link") or "") or None,
                published=published,
                byline=str(entry.get("author") or "") or None,
                paragraphs=make_paragraphs(spans),
            )
        )
    if not articles:
        raise UnreadableFileError("no usable entry: " + "; ".join(problems[:3]))
    return articles, problems
