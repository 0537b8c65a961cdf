"""article-qa: offline question answering over a folder of articles, with exact citations."""

from __future__ import annotations

import logging

from qa.api import QA, index_info, verify_index
from qa.build import build_index
from qa.errors import (
    BadInputError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexWriteError,
    NotFoundError,
    QAError,
)
from qa.logs import configure_logging
from qa.models.embed import Encoder
from qa.results import (
    Answer,
    ArticleSummary,
    ArticleView,
    BuildReport,
    Citation,
    Hit,
    IndexInfo,
    ParagraphView,
    SkippedFile,
)
from qa.search.conversation import Chat, Turn
from qa.search.inputs import MAX_QUESTION_CHARS, MAX_TOP_K
from qa.version import __version__

__all__ = [
    "MAX_QUESTION_CHARS",
    "MAX_TOP_K",
    "QA",
    "Answer",
    "ArticleSummary",
    "ArticleView",
    "BadInputError",
    "BuildReport",
    "Chat",
    "Citation",
    "Encoder",
    "Hit",
    "IndexCorruptError",
    "IndexInfo",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexWriteError",
    "NotFoundError",
    "ParagraphView",
    "QAError",
    "SkippedFile",
    "Turn",
    "__version__",
    "build_index",
    "configure_logging",
    "index_info",
    "verify_index",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
