"""``manifest.json``: what a generation holds, what made it, and a checksum of every file.

Read first and checked field by field: a hand-edited or damaged manifest is an
``IndexCorruptError`` with the field named, never an ``AttributeError`` further down.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from qa.errors import IndexCorruptError, IndexMismatchError

# 3: stable passage keys, headings and sections, windows for long paragraphs, typed model record.
# 4: vectors in shared segments (qa.storage.vectors.segments), listed in the manifest.
# 5: a segment record per paragraph, int8 vectors.
# 6: parts (earlier generations' search files, shared), BM25 of term frequencies.
FORMAT_VERSION = 6
# Generations a build can reuse vectors from (format 3 kept them in its own qa.sqlite).
REUSABLE_VERSIONS = (3, 4, 5, 6)
MANIFEST_NAME = "manifest.json"
SEGMENTS_DIR = "segments"  # beside the generations: vector segments they share
REBUILD = "Rebuild it with: qa build ARTICLES --index INDEX --force"


@dataclass(frozen=True)
class ModelInfo:
    """The embedding model that made the vectors; opening the index needs the same one."""

    name: str
    dim: int
    normalized: bool = True
    path: str | None = None  # a local sentence-transformers folder; None for the packaged default
    abstain_below: float | None = None  # evidence threshold given for this model at build time


@dataclass(frozen=True)
class Counts:
    articles: int
    passages: int  # every paragraph, boilerplate and headings included
    searchable: int  # passages in the search indexes
    boilerplate: int
    headings: int
    vectors: int
    skipped_files: int


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    size: int
    fingerprint: str | None = None  # see file_fingerprint: what opening an index checks


@dataclass(frozen=True)
class SegmentEntry(FileEntry):
    """A vector segment the generation reads (``segments/NAME``), with its checksum."""

    vectors: int = 0  # rows in it, live or not: what tells a build to compact


@dataclass(frozen=True)
class PartEntry:
    """An earlier generation whose part (its ``qa.sqlite`` and search files) this one reads."""

    index_type: str
    files: dict[str, FileEntry]
    ef_search: int | None = None


@dataclass(frozen=True)
class Manifest:
    format_version: int
    qa_version: str
    created: str
    model: ModelInfo
    index_type: str
    counts: Counts
    chunking: dict[str, str]
    corpus_hash: str
    source: str
    files: dict[str, FileEntry] = field(default_factory=dict)  # relative path -> checksum
    ef_search: int | None = None  # HNSW search depth the index was tuned for; None for Flat
    vector_store: str | None = None  # milvus://HOST:PORT/COLLECTION, or None: FAISS in the folder
    # Shared vector segments this generation reads, by file name under the index's segments/.
    vector_segments: dict[str, SegmentEntry] = field(default_factory=dict)
    # Earlier generations whose parts this one reads (by folder name, oldest first); its own
    # folder is the newest part.
    parts: dict[str, PartEntry] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @property
    def size_bytes(self) -> int:
        """The bytes this generation reads: its own files, its parts' and the segments it lists."""
        return (
            sum(f.size for f in self.files.values())
            + sum(s.size for s in self.vector_segments.values())
            + sum(f.size for part in self.parts.values() for f in part.files.values())
        )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Opening an index checks each file's size and a fingerprint: the whole sha256 for files up to
# WHOLE_FILE_LIMIT, else the sha256 of SAMPLE_COUNT evenly spaced blocks (first and last
# included), so opening a multi-GB index reads megabytes, not gigabytes. `qa verify` and every
# build read every byte.
WHOLE_FILE_LIMIT = 8 << 20
SAMPLE_BLOCK = 64 << 10
SAMPLE_COUNT = 32


def file_fingerprint(path: Path, size: int) -> str:
    """A cheap checksum of ``path``: whole for small files, sampled blocks for big ones."""
    if size <= WHOLE_FILE_LIMIT:
        return file_sha256(path)
    h = hashlib.sha256(f"sampled|{size}|{SAMPLE_BLOCK}|{SAMPLE_COUNT}".encode())
    last = size - SAMPLE_BLOCK
    with path.open("rb") as f:
        for i in range(SAMPLE_COUNT):
            f.seek(last * i // (SAMPLE_COUNT - 1))
            h.update(f.read(SAMPLE_BLOCK))
    return "sampled:" + h.hexdigest()


def describe_segment(path: Path, vectors: int) -> SegmentEntry:
    size = path.stat().st_size
    return SegmentEntry(
        sha256=file_sha256(path), size=size, fingerprint=file_fingerprint(path, size), vectors=vectors
    )


def describe_files(generation: Path) -> dict[str, FileEntry]:
    """sha256, size and fingerprint of every file in the generation except the manifest."""
    files = sorted(p for p in generation.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    entries = {}
    for p in files:
        size = p.stat().st_size
        entries[p.relative_to(generation).as_posix()] = FileEntry(
            sha256=file_sha256(p), size=size, fingerprint=file_fingerprint(p, size)
        )
    return entries


_TYPES: dict[Any, tuple[type, ...]] = {
    "int": (int,),
    "str": (str,),
    "bool": (bool,),
    "float | None": (float, int, type(None)),
    "str | None": (str, type(None)),
    "int | None": (int, type(None)),
}


# Fields whose absence changes nothing: without a fingerprint, opening checks the whole sha256.
_SAFE_TO_OMIT = frozenset({"fingerprint"})


def _typed(cls: type, data: object, where: str, strict: bool = True) -> Any:
    """Build dataclass ``cls`` from a JSON object, checking every field's type.

    ``strict``: every field must be there, defaults or not. A build writes them all, so a
    missing one is damage; filling in its default would open the index changed (no vector
    segments, another threshold) without a word. Older formats (read to reuse) are lenient.
    """
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{where} must be a JSON object, not {type(data).__name__}. {REBUILD}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise IndexCorruptError(f"{where} has unknown fields {unknown}. {REBUILD}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            optional = f.default is not MISSING or f.default_factory is not MISSING
            if optional and (not strict or f.name in _SAFE_TO_OMIT):
                continue
            raise IndexCorruptError(f"{where} is missing the field {f.name!r}. {REBUILD}")
        value = data[f.name]
        allowed = _TYPES.get(f.type)
        bad_bool = isinstance(value, bool) and f.type in ("int", "int | None", "float | None")
        if allowed is not None and (not isinstance(value, allowed) or bad_bool):
            raise IndexCorruptError(
                f"{where} field {f.name!r} should be {f.type}, found {value!r}. {REBUILD}"
            )
        values[f.name] = value
    return cls(**values)


def parse_manifest(data: object, where: str, versions: tuple[int, ...] = (FORMAT_VERSION,)) -> Manifest:
    """``versions``: the format versions accepted (a build reuses vectors of older ones)."""
    if not isinstance(data, dict):
        raise IndexCorruptError(f"{where} must be a JSON object. {REBUILD}")
    version = data.get("format_version")
    if version not in versions:
        fix = (
            "Bring it up to date with: qa build ARTICLES --index INDEX (its vectors are reused, "
            "nothing is embedded again)"
            if version in REUSABLE_VERSIONS
            else REBUILD
        )
        raise IndexMismatchError(
            f"{where} has format version {version!r}; this article-qa reads version {FORMAT_VERSION}. {fix}"
        )
    strict = version == FORMAT_VERSION
    raw = dict(data)
    model = _typed(ModelInfo, raw.pop("model", None), f"{where} 'model'", strict)
    counts = _typed(Counts, raw.pop("counts", None), f"{where} 'counts'", strict)
    files = raw.pop("files", None)
    if not isinstance(files, dict) or not files:
        raise IndexCorruptError(f"{where} 'files' must list the generation's files. {REBUILD}")
    entries = {
        str(name): _typed(FileEntry, entry, f"{where} file {name!r}", strict) for name, entry in files.items()
    }
    if strict and "vector_segments" not in raw:
        raise IndexCorruptError(f"{where} is missing the field 'vector_segments'. {REBUILD}")
    listed = raw.pop("vector_segments", {})
    if not isinstance(listed, dict) or any("/" in str(n) or str(n).startswith(".") for n in listed):
        raise IndexCorruptError(
            f"{where} 'vector_segments' must map segment file names to checksums. {REBUILD}"
        )
    segments = {str(n): _typed(SegmentEntry, e, f"{where} segment {n!r}", strict) for n, e in listed.items()}
    parts = _parts(raw.pop("parts", {}), where, strict)
    chunking = raw.pop("chunking", None)
    if not isinstance(chunking, dict) or not all(isinstance(v, str) for v in chunking.values()):
        raise IndexCorruptError(f"{where} 'chunking' must map names to text. {REBUILD}")
    rest = _typed(_ManifestHead, raw, where, strict)
    return Manifest(
        model=model,
        counts=counts,
        files=entries,
        chunking=chunking,
        vector_segments=segments,
        parts=parts,
        **asdict(rest),
    )


def _parts(listed: object, where: str, strict: bool) -> dict[str, PartEntry]:
    if not isinstance(listed, dict) or any(
        not str(n).startswith("gen-") or "/" in str(n) or not isinstance(e, dict) for n, e in listed.items()
    ):
        raise IndexCorruptError(f"{where} 'parts' must map generation names to their files. {REBUILD}")
    parts = {}
    for name, entry in listed.items():
        fields_of = dict(entry)
        files = fields_of.pop("files", None)
        if not isinstance(files, dict) or not files:
            raise IndexCorruptError(f"{where} part {name!r} must list its files. {REBUILD}")
        checked = {
            str(f): _typed(FileEntry, e, f"{where} part {name!r} file {f!r}", strict)
            for f, e in files.items()
        }
        head = _typed(_PartHead, fields_of, f"{where} part {name!r}", strict)
        parts[str(name)] = PartEntry(files=checked, **asdict(head))
    return parts


@dataclass(frozen=True)
class _PartHead:
    index_type: str
    ef_search: int | None = None


@dataclass(frozen=True)
class _ManifestHead:
    """The manifest's plain fields, checked like the nested ones."""

    format_version: int
    qa_version: str
    created: str
    index_type: str
    corpus_hash: str
    source: str
    ef_search: int | None = None
    vector_store: str | None = None


def read_manifest(generation: Path, versions: tuple[int, ...] = (FORMAT_VERSION,)) -> Manifest:
    path = generation / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(
            f"Index generation '{generation}' has no {MANIFEST_NAME}. {REBUILD}"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IndexCorruptError(f"Cannot read '{path}' ({err}). {REBUILD}") from None
    return parse_manifest(data, f"'{path}'", versions)


def verify_files(
    generation: Path,
    manifest: Manifest,
    required: tuple[str, ...] = (),
    *,
    thorough: bool = True,
    thorough_segments: bool | None = None,
) -> None:
    """Raise IndexCorruptError unless every listed file exists with its recorded size and hash.

    ``required`` names files the format always has: a manifest that leaves one out is damaged
    even when the rest checks out. FAISS and SQLite both load damaged files without complaint
    and return changed results; the checksum is the only guard. Without ``thorough`` a file's
    fingerprint stands in for its sha256 (see file_fingerprint). What the generation shares with
    earlier ones (vector segments, earlier generations' parts) is checked like its own files
    unless ``thorough_segments`` says otherwise.
    """
    for name in required:
        if name not in manifest.files:
            raise IndexCorruptError(f"'{generation / MANIFEST_NAME}' does not list {name}. {REBUILD}")
    segments = generation.parent / SEGMENTS_DIR
    checks = [(generation / name, expected, thorough) for name, expected in manifest.files.items()]
    segment_thorough = thorough if thorough_segments is None else thorough_segments
    checks += [(segments / name, e, segment_thorough) for name, e in manifest.vector_segments.items()]
    checks += [
        (generation.parent / part / name, expected, segment_thorough)
        for part, entry in manifest.parts.items()
        for name, expected in entry.files.items()
    ]
    for path, expected, whole in checks:
        if not path.is_file():
            raise IndexCorruptError(f"Index file '{path}' is missing. {REBUILD}")
        size = path.stat().st_size
        if size != expected.size:
            raise IndexCorruptError(
                f"Index file '{path}' has {size} bytes, the manifest says {expected.size} "
                f"(truncated or replaced). {REBUILD}"
            )
        if whole or expected.fingerprint is None:
            intact = file_sha256(path) == expected.sha256
        else:
            intact = file_fingerprint(path, size) == expected.fingerprint
        if not intact:
            raise IndexCorruptError(
                f"Index file '{path}' does not match its checksum (damaged or edited). {REBUILD}"
            )
