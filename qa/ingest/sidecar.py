"""What ``qa fetch`` knows about a downloaded file, kept beside it as ``NAME.fetch.json``.

The reader of the file has the last word; the sidecar fills gaps: the page's URL when the page
does not name itself, and the feed entry's date when the page carries none.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

from qa.ingest.article import Article
from qa.ingest.dates import parse_published

logger = logging.getLogger(__name__)

SIDECAR = ".fetch.json"


def sidecar_of(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR)


def read_hints(path: Path) -> dict[str, str]:
    """The URL and date hints of ``path``'s sidecar; {} when it has none or it is unreadable."""
    sidecar = sidecar_of(path)
    if not sidecar.is_file():
        return {}
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        logger.warning("Ignoring %s (%s)", sidecar, err)
        return {}
    if not isinstance(meta, dict):
        return {}
    return {k: str(meta[k]) for k in ("url", "published") if meta.get(k)}


def apply_hints(article: Article, hints: dict[str, str]) -> Article:
    url = article.url or hints.get("url")
    published = article.published or parse_published(hints.get("published"))
    if (url, published) == (article.url, article.published):
        return article
    return replace(article, url=url, published=published)
