"""What a build says when it cannot write its files: the cause from the error's code (never
its text, which holds file names), the fix, and whether the new generation already went live."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path


def inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


# SQLite's primary result codes (sqlite3 exceptions carry them as sqlite_errorcode).
_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_READONLY, _SQLITE_CANTOPEN = 13, 10, 8, 14


def write_problem(index_dir: Path, err: OSError | sqlite3.OperationalError, published: bool) -> str:
    """What went wrong writing the index, and what to do, from the error's code (not its text,
    which holds file names)."""
    code = err.errno if isinstance(err, OSError) else None
    sqlite_code = getattr(err, "sqlite_errorcode", 0) & 0xFF
    where = f" ({err.filename})" if isinstance(err, OSError) and err.filename else ""
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or sqlite_code == _SQLITE_FULL:
        problem, fix = "the disk (or quota) is full", "free some space"
    elif sqlite_code == _SQLITE_IOERR:  # how SQLite reports a write past a file-size limit, too
        problem = "a disk I/O error (usually a full disk or a file-size limit, else a failing disk)"
        fix = "free some space or lift the limit (ulimit -f)"
    elif code in (errno.EROFS, errno.EACCES, errno.EPERM) or sqlite_code in (
        _SQLITE_READONLY,
        _SQLITE_CANTOPEN,
    ):
        problem, fix = "it is not writable", "make it writable or pass --index with another folder"
    else:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        problem, fix = reason, "fix that"
    if published:
        state = "The new generation was published and answers; only tidying up after it failed"
    else:
        state = "Nothing was published; the live generation, if any, is unchanged"
    return f"Cannot write the index '{index_dir}'{where}: {problem}. {state}. To continue, {fix} and run the build again."
