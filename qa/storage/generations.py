"""The index folder: numbered generations, the ``CURRENT`` pointer, the build lock, debris.

A build writes a new ``gen-NNNNNN`` folder, fsyncs it and then swaps ``CURRENT`` with
``os.replace``, so a crash at any moment leaves the previous generation live.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qa.errors import BadInputError, IndexLockedError, IndexNotFoundError

logger = logging.getLogger(__name__)

CURRENT = "CURRENT"
LOCK = "build.lock"
_GENERATION = re.compile(r"gen-(\d{6})")


@dataclass(frozen=True)
class Pointer:
    """What ``CURRENT`` says. Exactly one of the three holds: missing, ``name``, ``problem``."""

    missing: bool = False  # no CURRENT file: nothing was ever published here
    name: str | None = None  # the live generation's folder name (it exists)
    problem: str | None = None  # CURRENT exists but names no generation: why, for a person


def read_pointer(index_dir: Path) -> Pointer:
    """Read and check ``CURRENT`` once: every caller sees the same verdict on odd bytes."""
    try:
        raw = (index_dir / CURRENT).read_bytes()
    except FileNotFoundError:
        if generations(index_dir):  # lost, or a first build that never published: keep them for now
            return Pointer(problem="is missing, though generation folders are there")
        return Pointer(missing=True)
    except OSError as err:
        return Pointer(problem=f"cannot be read ({err.strerror})")
    try:
        name = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return Pointer(problem=f"holds bytes that are not text ({raw[:16]!r})")
    if not name:
        return Pointer(problem="is empty")
    if not _GENERATION.fullmatch(name):
        return Pointer(problem=f"holds {name[:40]!r}, not a generation name like gen-000001")
    if not (index_dir / name).is_dir():
        return Pointer(problem=f"points at '{name}', which is not a generation folder")
    return Pointer(name=name)


def current_name(index_dir: Path) -> str | None:
    """The live generation's name, or None when CURRENT is missing or damaged."""
    return read_pointer(index_dir).name


def current_generation(index_dir: Path) -> Path:
    """The live generation folder, or IndexNotFoundError with the command that makes one."""
    if index_dir.exists() and not index_dir.is_dir():
        raise IndexNotFoundError(
            f"'{index_dir}' is a file, not an index folder. Pass the folder qa build wrote."
        )
    pointer = read_pointer(index_dir)
    if pointer.missing:
        hint = "" if index_dir.exists() else " (the folder does not exist)"
        raise IndexNotFoundError(
            f"No index at '{index_dir}'{hint}: {CURRENT} is missing. "
            f"Build one with: qa build ARTICLES --index {index_dir}"
        )
    if pointer.name is None:
        raise IndexNotFoundError(
            f"'{index_dir / CURRENT}' {pointer.problem}, so no generation is live. The generation "
            f"folders are kept: qa build ARTICLES --index {index_dir} publishes a new one, reusing "
            "the embeddings of the newest intact generation."
        )
    return index_dir / pointer.name


def generations(index_dir: Path) -> list[Path]:
    if not index_dir.is_dir():
        return []
    return sorted(p for p in index_dir.iterdir() if p.is_dir() and _GENERATION.fullmatch(p.name))


def new_generation(index_dir: Path) -> Path:
    numbers = [int(_GENERATION.fullmatch(p.name).group(1)) for p in generations(index_dir)]  # type: ignore[union-attr]
    path = index_dir / f"gen-{max(numbers, default=0) + 1:06d}"
    path.mkdir()
    return path


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(index_dir: Path, generation: Path) -> None:
    """Make ``generation`` durable, then point CURRENT at it atomically."""
    for path in sorted(generation.rglob("*"), reverse=True):
        _fsync_path(path)
    _fsync_path(generation)
    temporary = index_dir / f"{CURRENT}.tmp"
    with temporary.open("w", encoding="utf-8") as f:
        f.write(generation.name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, index_dir / CURRENT)
    _fsync_path(index_dir)


def remove_debris(index_dir: Path, keep: set[str]) -> int:
    """Delete generations not in ``keep`` (crashed builds and superseded ones)."""
    removed = 0
    for path in generations(index_dir):
        if path.name not in keep:
            logger.info("Removing old or unfinished generation %s", path)
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    for leftover in (f"{CURRENT}.tmp", "file-signatures.json.tmp"):
        with contextlib.suppress(FileNotFoundError):
            (index_dir / leftover).unlink()
    return removed


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold ``build.lock`` for the duration of a build; a second build fails at once."""
    if index_dir.exists() and not index_dir.is_dir():
        raise BadInputError(
            f"'{index_dir}' is a file; --index must name a folder (new or built by qa build)."
        )
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexLockedError(
                f"Another build is writing '{index_dir}' (it holds {index_dir / LOCK}). "
                "Wait for it to finish, then run this build again."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
