"""User-facing errors. ``str(err)`` is always fit to show to a person: what was wrong and the fix."""

from __future__ import annotations


class QAError(Exception):
    """Base class for every error article-qa raises on purpose."""


class BadInputError(QAError, ValueError):
    """A question, folder or file that cannot be used as given."""


class NotFoundError(BadInputError):
    """An article, passage or conversation that this index (or server) does not have."""


class IndexNotFoundError(QAError, FileNotFoundError):
    """No published index generation at the given location."""


class IndexCorruptError(QAError):
    """An index whose files do not match their manifest (truncated, edited, bit-flipped)."""


class IndexMismatchError(QAError):
    """An index made by another format version or another embedding model."""


class IndexLockedError(QAError):
    """Another build holds the index lock."""


class IndexWriteError(QAError):
    """A build that could not write its files (disk full, read-only folder); nothing was published."""
