"""``manifest.json``: what a generation holds, what made it, and a checksum of every file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import IndexCorruptError, IndexMismatchError

FORMAT_VERSION = 2  # 2: files table (parse reuse)
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    format_version: int
    qa_version: str
    created: str
    model: dict[str, Any]  # name, dim, normalized
    index_type: str
    counts: dict[str, int]
    chunking: dict[str, Any]
    corpus_hash: str
    source: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> sha256, size

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe_files(generation: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file in the generation except the manifest itself."""
    files = sorted(p for p in generation.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    return {
        p.relative_to(generation).as_posix(): {"sha256": file_sha256(p), "size": p.stat().st_size}
        for p in files
    }


def read_manifest(generation: Path) -> Manifest:
    path = generation / MANIFEST_NAME
    rebuild = "Rebuild it with: qa build ARTICLES --index INDEX --force"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(
            f"Index generation '{generation}' has no {MANIFEST_NAME}. {rebuild}"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IndexCorruptError(f"Cannot read '{path}' ({err}). {rebuild}") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        found = data.get("format_version") if isinstance(data, dict) else None
        raise IndexMismatchError(
            f"Index '{generation}' has format version {found!r}; this article-qa reads version "
            f"{FORMAT_VERSION}. {rebuild}"
        )
    try:
        return Manifest(**data)
    except TypeError as err:
        raise IndexCorruptError(
            f"'{path}' is missing fields or has unknown ones ({err}). {rebuild}"
        ) from None


def verify_files(generation: Path, manifest: Manifest) -> None:
    """Raise IndexCorruptError unless every listed file exists with its recorded size and hash.

    FAISS and SQLite both load damaged files without complaint and return changed results;
    the checksum is the only guard.
    """
    rebuild = "Rebuild it with: qa build ARTICLES --index INDEX --force"
    for name, expected in manifest.files.items():
        path = generation / name
        if not path.is_file():
            raise IndexCorruptError(f"Index file '{path}' is missing. {rebuild}")
        size = path.stat().st_size
        if size != expected["size"]:
            raise IndexCorruptError(
                f"Index file '{path}' has {size} bytes, the manifest says {expected['size']} "
                f"(truncated or replaced). {rebuild}"
            )
        if file_sha256(path) != expected["sha256"]:
            raise IndexCorruptError(
                f"Index file '{path}' does not match its checksum (damaged or edited). {rebuild}"
            )
