"""Read a folder of articles: one reader per format, boilerplate flagged, skips explained."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from qa.errors import BadInputError
from qa.ingest.article import Article, Paragraph
from qa.ingest.boilerplate import flag_corpus
from qa.ingest.errors import UnreadableFileError
from qa.ingest.feed import read_feed
from qa.ingest.jsonlines import read_jsonl
from qa.ingest.markdown import read_markdown
from qa.ingest.pdf import read_pdf
from qa.ingest.plaintext import read_text
from qa.ingest.sidecar import apply_hints, read_hints, sidecar_of
from qa.ingest.webpage import read_html
from qa.results import SkippedFile

__all__ = [
    "READER_VERSION",
    "SUPPORTED_SUFFIXES",
    "Article",
    "Corpus",
    "Paragraph",
    "Reuse",
    "content_key",
    "file_signature",
    "read_corpus",
    "unchanged_files",
]

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 50 * 1024 * 1024
# A news paragraph is a few hundred characters; one past this is a dump, not prose, and would be
# embedded as thousands of windows at once. Such an article is skipped with this limit named.
MAX_PARAGRAPH_CHARS = 100_000


def _too_long(article: Article) -> int | None:
    """The length of the article's first paragraph past MAX_PARAGRAPH_CHARS, if any."""
    return next((p.end - p.start for p in article.paragraphs if p.end - p.start > MAX_PARAGRAPH_CHARS), None)


def _single(
    reader: Callable[[bytes, str], list[Article]],
) -> Callable[[bytes, str], tuple[list[Article], list[str]]]:
    return lambda data, rel: (reader(data, rel), [])


READERS: dict[str, Callable[[bytes, str], tuple[list[Article], list[str]]]] = {
    ".txt": _single(read_text),
    ".md": _single(read_markdown),
    ".markdown": _single(read_markdown),
    ".html": _single(read_html),
    ".htm": _single(read_html),
    ".jsonl": read_jsonl,
    ".pdf": _single(read_pdf),
    ".rss": read_feed,
    ".atom": read_feed,
    ".xml": read_feed,  # only when its root element is a feed; other XML is skipped with that reason
}
SUPPORTED_SUFFIXES = tuple(READERS)


# Bump when a reader's output for the same bytes changes, so saved parses are not reused; the
# same when boilerplate rules 1-2 change (reused articles keep the flags those rules gave).
# 3: publication dates normalised to ISO 8601, never taken from a copyright line.
# 4: text decoded by its byte-order mark (UTF-8's BOM no longer kept), stray NULs made spaces.
READER_VERSION = 4

# A file modified this recently may change again within its timestamp's resolution unseen
# (git's "racy" case): its signature is not trusted and it is read again next time.
RACY_SECONDS = 2.0


@dataclass(frozen=True)
class Reuse:
    """What an earlier build read, so unchanged files are neither read nor parsed again."""

    keys: Mapping[str, str]  # path -> content key, of files whose every article was kept
    signatures: Mapping[str, tuple[str, str | None]]  # path -> (signature, skip reason or None)
    articles: Callable[[str], list[Article]]  # the articles read from a path, own flags on


def file_signature(path: Path, stat: os.stat_result, now: float) -> str | None:
    """Size, modification and change times and inode of the file and of its fetch sidecar,
    tied to this reader version: equal signatures mean the same bytes, read the same way (the
    change time cannot be set back: a copy that keeps the mtime still differs). None when a
    file changed too recently for its timestamps to be trusted."""

    def of(s: os.stat_result) -> str:
        return f"{s.st_size}:{s.st_mtime_ns}:{s.st_ctime_ns}:{s.st_ino}"

    parts = [f"r{READER_VERSION}", of(stat)]
    newest = max(stat.st_mtime, stat.st_ctime)
    with contextlib.suppress(FileNotFoundError):
        side = sidecar_of(path).stat()
        parts.append(of(side))
        newest = max(newest, side.st_mtime, side.st_ctime)
    return None if now - newest < RACY_SECONDS else "|".join(parts)


@dataclass(frozen=True)
class Corpus:
    root: str
    articles: tuple[Article, ...]
    skipped: tuple[SkippedFile, ...]
    files: dict[str, str] = field(default_factory=dict)  # path -> content key, cleanly read files
    reused: int = 0  # files whose articles came from the previous build instead of a reader
    # path -> (signature, skip reason or None): files read cleanly or skipped as a whole, whose
    # signature a later build may trust (see file_signature)
    signatures: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def content_key(data: bytes, hints: dict[str, str] | None = None) -> str:
    """Identifies a file's bytes (and its fetch sidecar's hints) as read by this version of the readers."""
    digest = hashlib.sha256(data)
    if hints:
        digest.update(b"\x00" + json.dumps(hints, sort_keys=True).encode())
    return f"r{READER_VERSION}:{digest.hexdigest()}"


def _article_files(root: Path, follow_symlinks: bool) -> tuple[list[Path], list[SkippedFile]]:
    """Supported files under ``root``, and the links skipped because they lead outside it.

    A symbolic link to a file or folder outside the articles folder (``/etc/passwd``, a home
    directory) is not read unless ``follow_symlinks``: whoever can write the folder must not be
    able to publish any file the build can read.
    """
    if root.is_file():
        return [root], []
    inside = root.resolve()
    found: list[Path] = []
    skipped: list[SkippedFile] = []
    seen_folders = {inside}  # with follow_symlinks, a link back up must not loop

    def outside(path: Path) -> str | None:
        """Why the link at ``path`` is not read, or None when it stays inside the folder."""
        try:
            if path.resolve().is_relative_to(inside):
                return None
        except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError on a loop
            return "symbolic link that loops; not read"
        kind = "folder" if path.is_dir() else "file"
        return (
            f"symbolic link to a {kind} outside the articles folder ({os.readlink(path)}); "
            "not read (pass --follow-symlinks to read it)"
        )

    def skip_link(path: Path, reason: str) -> None:
        rel = path.relative_to(root).as_posix()
        logger.warning("Skipping %s: %s", rel, reason)
        skipped.append(SkippedFile(rel, reason))

    for folder, dirs, files in os.walk(root, followlinks=follow_symlinks):
        kept = []
        for d in sorted(dirs):
            path = Path(folder, d)
            if d.startswith("."):
                continue
            if path.is_symlink() and not follow_symlinks:
                if reason := outside(path):
                    skip_link(path, reason)
                continue  # a link within the folder: its files are read where they are
            try:
                real = path.resolve()
            except (RuntimeError, OSError):  # a link loop
                continue
            if real in seen_folders:
                continue
            seen_folders.add(real)
            kept.append(d)
        dirs[:] = kept
        for name in sorted(files):
            path = Path(folder, name)
            if name.startswith(".") or path.suffix.lower() not in READERS:
                continue
            if path.is_symlink() and not follow_symlinks and (reason := outside(path)):
                skip_link(path, reason)
                continue
            found.append(path)
    return found, skipped


def _read(suffix: str, data: bytes, rel: str) -> tuple[list[Article], list[str]]:
    """The reader for ``suffix`` on one file; a parser (trafilatura, pypdf, feedparser, lxml)
    failing in a way nobody foresaw skips that file with the reason, never the whole build."""
    try:
        return READERS[suffix](data, rel)
    except UnreadableFileError:
        raise
    except Exception as err:
        logger.debug("Reader failure on %s", rel, exc_info=True)
        raise UnreadableFileError(
            f"the reader failed ({type(err).__name__}: {str(err)[:200]}); please report it"
        ) from None


def read_corpus(
    root: str | os.PathLike[str],
    *,
    show_progress: bool = False,
    reuse: Reuse | None = None,
    follow_symlinks: bool = False,
) -> Corpus:
    """Read every supported file under ``root``; unreadable files are skipped with a reason.

    ``reuse`` returns what an earlier build read from a file with the same bytes, which saves
    parsing it again (trafilatura takes milliseconds per page). Symbolic links that lead
    outside ``root`` are skipped unless ``follow_symlinks``.
    """
    base = Path(root)
    if not base.exists():
        raise BadInputError(f"Articles folder '{base}' does not exist. Check the path.")
    files, links_skipped = _article_files(base, follow_symlinks)
    if not files and not links_skipped:
        raise BadInputError(
            f"No articles found in '{base}': looked for {', '.join(SUPPORTED_SUFFIXES)} files "
            "(hidden files are ignored). Put articles there or point at another folder."
        )
    articles: list[Article] = []
    skipped: list[SkippedFile] = list(links_skipped)
    ids: set[str] = set()
    read_cleanly: dict[str, str] = {}
    reused = 0
    flagged: set[str] = set()  # reused articles: their own boilerplate flags are already known
    anchor = base if base.is_dir() else base.parent
    signatures: dict[str, tuple[str, str | None]] = {}
    now = time.time()
    for path in tqdm(files, desc="Reading articles", unit="file", disable=not show_progress):
        rel = path.relative_to(anchor).as_posix()
        signature: str | None = None
        try:
            stat = path.stat()
            signature = file_signature(path, stat, now)
            known = reuse.signatures.get(rel) if reuse and signature else None
            if known is not None and known[0] == signature and known[1] is not None:
                raise UnreadableFileError(known[1])  # skipped last time, and unchanged since
            key = reuse.keys.get(rel) if reuse and known and known[0] == signature else None
            if key is None:  # new or changed (or unknown): read it
                if stat.st_size > MAX_FILE_BYTES:
                    raise UnreadableFileError(f"larger than {MAX_FILE_BYTES // 2**20} MB")
                if stat.st_size == 0:
                    raise UnreadableFileError("empty file")
                data = path.read_bytes()
                hints = read_hints(path)  # what qa fetch knew about the file: URL, feed date
                key = content_key(data, hints)
            if reuse and reuse.keys.get(rel) == key:
                new, problems = reuse.articles(rel), list[str]()
                reused += 1
                flagged.update(a.id for a in new)
            else:
                new, problems = _read(path.suffix.lower(), data, rel)
                new = [apply_hints(article, hints) for article in new] if hints else new
        except (UnreadableFileError, OSError) as err:
            reason = str(err) if isinstance(err, UnreadableFileError) else f"cannot read ({err.strerror})"
            logger.warning("Skipping %s: %s", rel, reason)
            skipped.append(SkippedFile(rel, reason))
            if signature is not None and isinstance(err, UnreadableFileError):
                signatures[rel] = (signature, reason)
            continue
        for problem in problems:
            logger.warning("Skipping %s %s", rel, problem)
            skipped.append(SkippedFile(rel, problem))
        if not problems and all(a.paragraphs and a.id not in ids and not _too_long(a) for a in new):
            read_cleanly[rel] = key  # only files whose every article is kept may be reused
            if signature is not None:
                signatures[rel] = (signature, None)
        for article in new:
            if (length := _too_long(article)) is not None:
                reason = (
                    f"article {article.id!r} has a paragraph of {length:,} characters (the limit is "
                    f"{MAX_PARAGRAPH_CHARS:,}): separate its paragraphs with blank lines"
                )
                skipped.append(SkippedFile(rel, reason))
                logger.warning("Skipping %s: %s", rel, reason)
            elif not article.paragraphs:
                skipped.append(SkippedFile(rel, f"article {article.id!r} has no paragraphs"))
                logger.warning("Skipping %s: article %r has no paragraphs", rel, article.id)
            elif article.id in ids:
                skipped.append(SkippedFile(rel, f"duplicate article id {article.id!r}"))
                logger.warning("Skipping %s: duplicate article id %r", rel, article.id)
            else:
                ids.add(article.id)
                articles.append(article)
    return Corpus(
        root=str(base),
        articles=tuple(flag_corpus(articles, own_flags_known=flagged)),
        skipped=tuple(skipped),
        files=read_cleanly,
        reused=reused,
        signatures=signatures,
    )


def unchanged_files(
    root: str | os.PathLike[str], reuse: Reuse, *, follow_symlinks: bool = False
) -> tuple[SkippedFile, ...] | None:
    """When every file under ``root`` is one an earlier build saw, with the same signature (and
    none is gone), what that build skipped; else None. Only ``stat`` is called: a no-change
    rebuild of a large corpus reads no article."""
    base = Path(root)
    if not base.is_dir():
        return None
    files, links_skipped = _article_files(base, follow_symlinks)
    if len(files) != len(reuse.signatures):
        return None
    now = time.time()
    skipped = list(links_skipped)
    for path in files:
        rel = path.relative_to(base).as_posix()
        known = reuse.signatures.get(rel)
        try:
            signature = file_signature(path, path.stat(), now)
        except OSError:
            return None
        if known is None or signature != known[0]:
            return None
        if known[1] is not None:
            skipped.append(SkippedFile(rel, known[1]))
    return tuple(skipped)
