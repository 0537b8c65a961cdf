"""article-qa: offline question answering over a folder of articles, with exact citations."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from qa.api import QA
from qa.build import build_index
from qa.conversation import Chat
from qa.embed import Encoder
from qa.errors import (
    BadInputError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    QAError,
)
from qa.results import Answer, BuildReport, Citation, Hit, SkippedFile

__all__ = [
    "QA",
    "Answer",
    "BadInputError",
    "BuildReport",
    "Chat",
    "Citation",
    "Encoder",
    "Hit",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "QAError",
    "SkippedFile",
    "__version__",
    "build_index",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
