"""``qa eval``: score an index on your own questions."""

from __future__ import annotations

from qa.evaluation.questions import DEFAULT_TOP_K, MAX_TOP_K, EvalQuestion, load_questions
from qa.evaluation.report import EvalReport, QuestionResult
from qa.evaluation.scoring import evaluate

__all__ = [
    "DEFAULT_TOP_K",
    "MAX_TOP_K",
    "EvalQuestion",
    "EvalReport",
    "QuestionResult",
    "evaluate",
    "load_questions",
]
