"""Reader for .md articles with optional YAML front matter (title, url, published, byline)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from qa.ingest.article import Article, make_paragraphs
from qa.ingest.dates import published_or_warn
from qa.ingest.decode import decode_text
from qa.ingest.errors import UnreadableFileError
from qa.ingest.plaintext import split_title
from qa.text.spans import split_paragraphs

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING = re.compile(r"#{1,6}\s+(.*?)\s*#*\s*")


def _front_matter(text: str) -> tuple[dict[str, Any], int]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, 0
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as err:
        raise UnreadableFileError(f"front matter is not valid YAML ({err.__class__.__name__})") from None
    except (ValueError, RecursionError, LookupError, AttributeError, TypeError) as err:
        # PyYAML's constructors raise these for values they cannot build: a date 0000-00-00
        # (ValueError), [[[[... nested past the stack, "!!bool a" (KeyError), "!!timestamp a"
        # (AttributeError). One odd header must not stop a build.
        raise UnreadableFileError(f"front matter cannot be read ({type(err).__name__}: {err})") from None
    if not isinstance(meta, dict):
        raise UnreadableFileError("front matter must be a YAML mapping (key: value lines)")
    return meta, match.end()


def _optional(meta: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = meta.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def read_markdown(data: bytes, rel_path: str) -> list[Article]:
    text = decode_text(data)
    meta, body_start = _front_matter(text)
    spans = split_paragraphs(text, body_start)
    # Headings are structure, not paragraphs; the first one can serve as the title.
    heading_title = None
    paragraphs = []
    for start, end in spans:
        heading = _HEADING.fullmatch(text, start, end)
        if heading:
            heading_title = heading_title or heading.group(1)
        else:
            paragraphs.append((start, end))
    title = _optional(meta, "title") or heading_title
    if title is None:
        title, paragraphs = split_title(text, paragraphs, rel_path)
    return [
        Article(
            id=_optional(meta, "id") or rel_path,
            title=title,
            text=text,
            source_path=rel_path,
            url=_optional(meta, "url", "link", "canonical_url"),
            published=published_or_warn(
                next((meta[k] for k in ("published", "date") if meta.get(k) not in (None, "")), None),
                rel_path,
            ),
            byline=_optional(meta, "byline", "author", "authors"),
            paragraphs=make_paragraphs(paragraphs),
        )
    ]
