from __future__ import annotations


class UnreadableFileError(Exception):
    """Raised by a reader for a file it cannot turn into articles; the message is the reason."""
