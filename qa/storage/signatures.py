"""``index/file-signatures.json``: each article file's signature when last read (size, mtime,
ctime and inode of it and of its fetch sidecar, under a reader version: qa.ingest.file_signature).

A cache beside the generations, not part of one: a no-change rebuild compares signatures
instead of reading every file (see qa.ingest.file_signature), and a build whose files only
got new timestamps refreshes it without writing a generation. It is written after the
generation it describes is live and names that generation; a copy that names another one,
or whose checksum fails, is ignored (every file is then read, as without it). So a crash or a
damaged file costs time, never a wrong index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

SIGNATURES_NAME = "file-signatures.json"
Signatures = dict[str, tuple[str, str | None]]  # path -> (signature, skip reason or None)


def _checksum(generation: str, signatures: Signatures) -> str:
    body = json.dumps([generation, sorted(signatures.items())], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def save_signatures(index_dir: Path, generation: str, signatures: Signatures) -> None:
    # ``generation`` labels one published generation (its name, creation time and corpus hash).
    """Replace the cache atomically; a failure only costs the next build its shortcut."""
    path = index_dir / SIGNATURES_NAME
    temporary = path.with_name(path.name + ".tmp")
    document = {
        "generation": generation,
        "signatures": {name: list(value) for name, value in signatures.items()},
        "sha256": _checksum(generation, signatures),
    }
    try:
        temporary.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as err:
        logger.warning("Could not save %s (%s); the next build reads every file", path, err)


def load_signatures(index_dir: Path, generation: str) -> Signatures:
    """The signatures recorded with ``generation``, or {} when there are none to trust."""
    path = index_dir / SIGNATURES_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document["generation"] != generation:
            return {}
        signatures: Signatures = {
            str(name): (str(value[0]), None if value[1] is None else str(value[1]))
            for name, value in document["signatures"].items()
        }
        if document["sha256"] != _checksum(generation, signatures):
            raise ValueError("checksum mismatch")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        logger.warning("Ignoring %s (%s); reading every file", path, err)
        return {}
    return signatures
