"""Reader for .jsonl collections: one article per line."""

from __future__ import annotations

import json
import logging

from qa.ingest.article import Article, make_paragraphs
from qa.ingest.dates import published_or_warn
from qa.ingest.decode import decode_text
from qa.ingest.errors import UnreadableFileError
from qa.text.spans import split_paragraphs

logger = logging.getLogger(__name__)


def _optional(record: dict[str, object], key: str) -> str | None:
    value = record.get(key)
    return None if value in (None, "") else str(value)


def read_jsonl(data: bytes, rel_path: str) -> tuple[list[Article], list[str]]:
    """Articles of the file and a reason for each line that could not be used."""
    text = decode_text(data)
    articles: list[Article] = []
    problems: list[str] = []
    # Split on "\n" only: JSON keeps U+2028, U+2029 and U+0085 raw inside strings, and
    # str.splitlines() would break a record there.
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"line {line_number}: not valid JSON ({err.msg})")
            continue
        except (ValueError, RecursionError) as err:  # a 5,000-digit number, [[[... nested too deep
            problems.append(f"line {line_number}: cannot be read ({type(err).__name__})")
            continue
        if not isinstance(record, dict):
            problems.append(f"line {line_number}: expected an object with 'title' and 'text'")
            continue
        body = record.get("text")
        if not isinstance(body, str) or not body.strip():
            problems.append(f"line {line_number}: missing or empty 'text'")
            continue
        spans = split_paragraphs(body)
        key = _optional(record, "id") or str(line_number)
        articles.append(
            Article(
                id=f"{rel_path}#{key}",
                title=_optional(record, "title") or f"{rel_path} line {line_number}",
                text=body,
                source_path=rel_path,
                url=_optional(record, "url"),
                published=published_or_warn(record.get("published"), f"{rel_path} line {line_number}"),
                byline=_optional(record, "byline"),
                paragraphs=make_paragraphs(spans),
            )
        )
    if not articles and problems:
        raise UnreadableFileError("no usable line: " + "; ".join(problems[:3]))
    return articles, problems
