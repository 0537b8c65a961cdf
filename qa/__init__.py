"""article-qa: offline question answering over a folder of articles, with exact citations."""

from __future__ import annotations

import logging

__version__ = "0.1.0"

from qa.api import QA  # noqa: E402
from qa.build import build_index  # noqa: E402
from qa.conversation import Chat  # noqa: E402
from qa.embed import Encoder  # noqa: E402
from qa.errors import (  # noqa: E402
    BadInputError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    QAError,
)
from qa.results import Answer, BuildReport, Citation, Hit, SkippedFile  # noqa: E402

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
