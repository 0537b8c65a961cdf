"""Pages and feeds into files: robots.txt honoured, one request per host per interval,
conditional GET on refetch, a sidecar of where and when each file came from."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import time
import urllib.robotparser
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from qa.errors import BadInputError, QAError
from qa.fetch.guard import AddressPolicy
from qa.fetch.http import Response, get
from qa.ingest.feed import is_feed
from qa.ingest.sidecar import SIDECAR  # beside each file: url, fetched, etag, last_modified (+ feed hints)
from qa.version import __version__

logger = logging.getLogger(__name__)

FEEDS_DIR = ".feeds"  # fetched feed documents (hidden: the build reads the pages, not these)
USER_AGENT = (
    f"article-qa/{__version__} (offline news question answering; +https://pypi.org/project/article-qa/)"
)


@dataclass(frozen=True)
class FetchSettings:
    allow_private: bool = False  # private and loopback addresses (an intranet, tests)
    min_interval: float = 1.0  # seconds between two requests to one host (robots' Crawl-delay if longer)
    timeout: float = 20.0  # seconds for one whole request, redirects included
    max_bytes: int = 10 * 1024 * 1024
    user_agent: str = USER_AGENT


@dataclass
class FetchReport:
    saved: list[str] = field(default_factory=list)  # files written (new or changed)
    unchanged: list[str] = field(default_factory=list)  # the server said 304, or the same bytes came back
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)

    def summary(self) -> str:
        return f"saved {len(self.saved)}, unchanged {len(self.unchanged)}, skipped {len(self.skipped)}"

    def to_dict(self) -> dict[str, object]:
        return {"saved": self.saved, "unchanged": self.unchanged, "skipped": [list(s) for s in self.skipped]}


def _slug(url: str) -> str:
    parts = urlsplit(url)
    words = re.findall(r"[a-z0-9]+", (parts.path + " " + parts.query).lower())
    stem = "-".join(words)[-60:].strip("-") or "index"
    return f"{stem}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def _kind(response: Response) -> str | None:
    """The file suffix for what came back: .html, .pdf, .rss (any feed), or None (unsupported)."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    head = response.body[:1024].lstrip()
    if head.startswith(b"%PDF") or content_type == "application/pdf":
        return ".pdf"
    if is_feed(response.body) or content_type in ("application/rss+xml", "application/atom+xml"):
        return ".rss"
    if "html" in content_type or head[:15].lower().startswith((b"<!doctype html", b"<html")):
        return ".html"
    return None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class Fetcher:
    def __init__(self, into: str | os.PathLike[str], settings: FetchSettings | None = None) -> None:
        self.into = Path(into)
        if self.into.exists() and not self.into.is_dir():
            raise BadInputError(f"--into '{self.into}' is a file; name a folder to download into.")
        self.settings = settings or FetchSettings()
        self.policy = AddressPolicy(allow_private=self.settings.allow_private)
        self.robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self.last_request: dict[str, float] = {}
        self.report = FetchReport()

    # ---- politeness ---------------------------------------------------------------------------

    def _wait_for(self, url: str) -> None:
        host = urlsplit(url).netloc
        robots = self.robots.get(host)
        delay = self.settings.min_interval
        if robots is not None:
            crawl_delay = robots.crawl_delay(self.settings.user_agent)
            delay = max(delay, float(crawl_delay or 0))
        wait = self.last_request.get(host, -1e9) + delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.last_request[host] = time.monotonic()

    def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        host = parts.netloc
        if host not in self.robots:
            robots = urllib.robotparser.RobotFileParser()
            robots_url = f"{parts.scheme}://{host}/robots.txt"
            try:
                self._wait_for(robots_url)
                response = self._get(robots_url, {})
            except QAError as err:
                logger.info("No robots.txt from %s (%s): everything allowed", host, err)
                robots.parse([])  # no rules: everything allowed
            else:
                if response.status in (401, 403):  # as Python's robotparser reads them
                    robots.parse(["User-agent: *", "Disallow: /"])
                elif response.status >= 400:
                    robots.parse([])
                else:
                    robots.parse(response.body.decode("utf-8", "replace").splitlines())
            self.robots[host] = robots
        return self.robots[host].can_fetch(self.settings.user_agent, url)

    def _get(self, url: str, extra: dict[str, str]) -> Response:
        headers = {"User-Agent": self.settings.user_agent, "Accept": "*/*", **extra}
        return get(
            url,
            self.policy,
            headers=headers,
            timeout=self.settings.timeout,
            max_bytes=self.settings.max_bytes,
        )

    # ---- files ----------------------------------------------------------------------------------

    def _existing(self, url: str, folder: Path) -> tuple[Path | None, dict[str, str]]:
        """A file an earlier fetch saved for ``url`` under ``folder``, and its sidecar."""
        slug = _slug(url)
        for path in folder.glob(f"{slug}.*"):
            if path.name.endswith(SIDECAR):
                continue
            sidecar = path.with_name(path.name + SIDECAR)
            try:
                meta = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return path, {}
            return path, {k: str(v) for k, v in meta.items() if v is not None}
        return None, {}

    def _fetch(
        self, url: str, folder: Path, hints: dict[str, str] | None = None
    ) -> tuple[Path, Response] | None:
        """Fetch one URL into ``folder``; None when skipped (reason recorded) or unchanged."""
        if not self._allowed(url):
            self.report.skipped.append((url, "robots.txt disallows it"))
            return None
        old_path, old_meta = self._existing(url, folder)
        conditional = {}
        if old_path is not None:
            if old_meta.get("etag"):
                conditional["If-None-Match"] = old_meta["etag"]
            if old_meta.get("last_modified"):
                conditional["If-Modified-Since"] = old_meta["last_modified"]
        self._wait_for(url)
        try:
            response = self._get(url, conditional)
        except QAError as err:
            self.report.skipped.append((url, str(err)))
            return None
        if response.status == 304 and old_path is not None:
            self.report.unchanged.append(str(old_path))
            return None
        if response.status != 200:
            self.report.skipped.append((url, f"HTTP {response.status}"))
            return None
        suffix = _kind(response)
        if suffix is None:
            kind = response.headers.get("content-type", "unknown")
            self.report.skipped.append((url, f"unsupported content type {kind!r} (HTML, PDF, RSS/Atom)"))
            return None
        path = folder / f"{_slug(url)}{suffix}"
        meta = {
            "url": response.url,
            "requested": url,
            "fetched": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            **(hints or {}),
        }
        if old_path is not None and old_path == path and old_path.read_bytes() == response.body:
            self.report.unchanged.append(str(path))
        else:
            _write_atomically(path, response.body)
            self.report.saved.append(str(path))
        _write_atomically(path.with_name(path.name + SIDECAR), json.dumps(meta, indent=1).encode())
        return path, response

    # ---- what the command asks for ---------------------------------------------------------------

    def page(self, url: str) -> None:
        """A page (or a PDF, or a feed file) into ``into/<host>/``."""
        host = urlsplit(url).hostname or "unknown"
        self._fetch(url, self.into / host)

    def feed(self, url: str) -> None:
        """A feed's entries: each entry's page into ``into/<host>/``, with the entry's date as
        a hint for pages that carry none; the feed document itself under ``into/.feeds/``."""
        import feedparser

        host = urlsplit(url).hostname or "unknown"
        fetched = self._fetch(url, self.into / FEEDS_DIR / host)
        if fetched is None:
            old, _ = self._existing(url, self.into / FEEDS_DIR / host)
            if old is None:
                return  # skipped, reason recorded
            body = old.read_bytes()  # unchanged since last time: its entries may still be new
        else:
            body = fetched[1].body
        parsed = feedparser.parse(body, sanitize_html=True)
        source = str(parsed.get("feed", {}).get("title") or host)
        for entry in parsed.get("entries") or []:
            link = entry.get("link")
            if not link:
                self.report.skipped.append((url, f"entry {entry.get('title', '?')!r} has no link"))
                continue
            hints = {"feed": source, "feed_url": url}
            if entry.get("published") or entry.get("updated"):
                hints["published"] = str(entry.get("published") or entry.get("updated"))
            if entry.get("title"):
                hints["title"] = " ".join(str(entry["title"]).split())
            self._fetch(link, self.into / (urlsplit(link).hostname or "unknown"), hints)


def read_url_list(path: str | os.PathLike[str]) -> list[str]:
    """URLs of a list file: one per line; blank lines and ``#`` comments ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise BadInputError(f"Cannot read the URL list '{path}': {err}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def fetch(
    into: str | os.PathLike[str],
    urls: Iterable[str] = (),
    feeds: Iterable[str] = (),
    settings: FetchSettings | None = None,
) -> FetchReport:
    """Download ``urls`` (pages, PDFs or feed files) and the entries of ``feeds`` into ``into``."""
    urls, feeds = list(urls), list(feeds)
    for url in [*urls, *feeds]:
        if urlsplit(url).scheme not in ("http", "https"):
            raise BadInputError(f"{url!r} is not an http(s) URL.")
    if not urls and not feeds:
        raise BadInputError("Nothing to fetch: give URLs, --feed URL or --from-file FILE.")
    fetcher = Fetcher(into, settings)
    for url in urls:
        fetcher.page(url)
    for url in feeds:
        fetcher.feed(url)
    return fetcher.report
