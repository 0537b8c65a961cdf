"""Score an index on your own questions: hit@k, MRR@10, answering sentences, abstention.

Questions come as JSON Lines (one ``{"question", "article", "paragraph", "answer", "kind"}``
object a line; ``"article": null`` marks a question the articles cannot answer) or in the SQuAD
v1.1 layout. Each question is asked once with :meth:`qa.QA.ask`; a citation is a hit when it is
the gold article and, if one is given, the gold paragraph. As in ``bench/retrieval.py``, ranks
and answering sentences are scored whether or not the answer abstained; abstention is reported
on its own.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from qa import QA, Answer, BadInputError, Citation
from qa.evaluation.questions import (
    CITED_SHOWN,
    DEFAULT_TOP_K,
    MAX_TOP_K,
    MRR_DEPTH,
    EvalQuestion,
    load_questions,
)
from qa.evaluation.report import (
    AnswerableMetrics,
    Cited,
    ConfidenceSweep,
    EvalReport,
    KindMetrics,
    QuestionResult,
    ThresholdRow,
)

logger = logging.getLogger(__name__)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


class _GoldMatcher:
    """Does a citation name the gold article? By id, source path, title, file name or stem.

    Case-insensitive; a name also matches the stem or title it spells with non-alphanumerics
    as "-" (SQuAD's "Super_Bowl_50" -> "Super Bowl 50" -> super-bowl-50.txt).
    """

    def __init__(self) -> None:
        self._names: dict[tuple[str, str, str], frozenset[str]] = {}
        self.matched: set[str] = set()

    def names(self, c: Citation) -> frozenset[str]:
        key = (c.article_id, c.source_path, c.title)
        if key not in self._names:
            path, _, record = c.article_id.partition("#")  # .jsonl articles: "file.jsonl#id"
            stem = PurePosixPath(path).stem
            name = PurePosixPath(path).name
            exact = {c.article_id, c.source_path, c.title, name, stem, path.rsplit(".", 1)[0], record}
            self._names[key] = frozenset(
                {n.strip().casefold() for n in exact if n} | {"slug:" + _slug(n) for n in (stem, c.title)}
            )
        return self._names[key]

    def hit(self, q: EvalQuestion, c: Citation) -> bool:
        assert q.article is not None
        names = self.names(c)
        same = q.article.casefold() in names or "slug:" + _slug(q.article) in names
        if same:
            self.matched.add(q.article)
        return same and (q.paragraph is None or q.paragraph == c.paragraph)


def _score(q: EvalQuestion, answer: Answer, matcher: _GoldMatcher) -> QuestionResult:
    rank = None
    if q.answerable:
        rank = next((c.number for c in answer.citations if matcher.hit(q, c)), None)
    in_sentence = None
    if q.answerable and q.answers:
        sentence = _normalise(answer.citations[0].sentence) if answer.citations else ""
        in_sentence = rank == 1 and any(_normalise(a) in sentence for a in q.answers)
    cited = tuple(
        Cited(c.number, c.score, c.title, c.article_id, c.paragraph, c.sentence)
        for c in answer.citations[:CITED_SHOWN]
    )
    return QuestionResult(q, answer.abstained, rank, in_sentence, cited, answer.confidence)


def _share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else None


def _answerable_metrics(results: Sequence[QuestionResult], top_k: int) -> AnswerableMetrics:
    ranks = [r.rank for r in results]

    def hit_at(k: int) -> float | None:
        return _share(r is not None and r <= k for r in ranks) if top_k >= k else None

    mrr = None
    if ranks and top_k >= MRR_DEPTH:
        mrr = round(sum(1 / r for r in ranks if r is not None and r <= MRR_DEPTH) / len(ranks), 4)
    with_answers = [r for r in results if r.answer_in_sentence is not None]
    return AnswerableMetrics(
        questions=len(results),
        hit_at_1=hit_at(1),
        hit_at_5=hit_at(5),
        hit_at_20=hit_at(20),
        mrr_at_10=mrr,
        with_answers=len(with_answers),
        sentence_answers=_share(bool(r.answer_in_sentence) for r in with_answers),
        sentence_answers_given_hit=_share(bool(r.answer_in_sentence) for r in with_answers if r.rank == 1),
        abstained=_share(r.abstained for r in results),
    )


def _kind_metrics(results: Sequence[QuestionResult]) -> tuple[KindMetrics, ...]:
    kinds = sorted({r.question.kind for r in results if r.question.kind is not None})
    out = []
    for kind in kinds:
        mine = [r for r in results if r.question.kind == kind]
        answerable = [r for r in mine if r.question.answerable]
        out.append(
            KindMetrics(
                kind=kind,
                questions=len(mine),
                answerable=len(answerable),
                hit_at_1=_share(r.rank == 1 for r in answerable),
                abstained_answerable=_share(r.abstained for r in answerable),
                abstained_unanswerable=_share(r.abstained for r in mine if not r.question.answerable),
            )
        )
    return tuple(out)


SWEPT_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _confidence_sweep(results: Sequence[QuestionResult], current: float | None) -> ConfidenceSweep | None:
    """How each reader threshold would have done on these answers (None without the reader)."""
    if not results or any(r.confidence is None for r in results):
        return None
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]

    def row(t: float) -> ThresholdRow:
        return ThresholdRow(
            min_confidence=t,
            answerable_abstained=_share((r.confidence or 0.0) < t for r in answerable),
            answerable_right=_share((r.confidence or 0.0) >= t and r.rank == 1 for r in answerable),
            unanswerable_abstained=_share((r.confidence or 0.0) < t for r in unanswerable),
        )

    shown = sorted({*SWEPT_THRESHOLDS, *([current] if current is not None else [])})
    suggested = None
    if answerable and unanswerable:

        def mistakes(t: float) -> float:
            r = row(t)
            return (r.answerable_abstained or 0.0) + 1.0 - (r.unanswerable_abstained or 0.0)

        # The middle of the best run of thresholds, not its edge: fewer surprises on new questions.
        grid = [round(0.01 * i, 2) for i in range(1, 100)]
        fewest = min(mistakes(t) for t in grid)
        best = [t for t in grid if mistakes(t) <= fewest + 1e-9]
        suggested = best[len(best) // 2]
    return ConfidenceSweep(current, tuple(row(t) for t in shown), suggested)


def evaluate(
    qa: QA,
    questions: Sequence[EvalQuestion] | str | os.PathLike[str],
    *,
    top_k: int = DEFAULT_TOP_K,
    show_progress: bool | None = None,
    source: str | None = None,
) -> EvalReport:
    """Ask every question once with ``qa.ask(question, top_k=top_k)`` and score the answers.

    ``questions`` is what :func:`load_questions` returns, or a path to pass to it.
    ``show_progress`` None shows a progress bar when the ``qa`` logger is at INFO or below.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise BadInputError(f"top_k must be a whole number from 1 to {MAX_TOP_K}, got {top_k!r}.")
    if isinstance(questions, str | os.PathLike):
        source = source or os.fspath(questions)
        questions = load_questions(questions)
    if not questions:
        raise BadInputError("There are no questions to evaluate.")
    if show_progress is None:
        show_progress = logging.getLogger("qa").getEffectiveLevel() <= logging.INFO
    matcher = _GoldMatcher()
    results = []
    started = time.perf_counter()
    with logging_redirect_tqdm():
        for q in tqdm(questions, desc="Asking", unit="question", disable=not show_progress):
            try:
                answer = qa.ask(q.text, top_k=top_k)
            except BadInputError as err:
                raise BadInputError(f"{source or 'questions'} {q.where}: {err}") from err
            results.append(_score(q, answer, matcher))
    seconds = time.perf_counter() - started
    answerable = [r for r in results if r.question.answerable]
    unanswerable = [r for r in results if not r.question.answerable]
    golds = {r.question.article for r in answerable if r.question.article is not None}
    unmatched = tuple(sorted(golds - matcher.matched))
    if unmatched:
        logger.warning(
            "No citation ever named these gold articles (check their spelling against the "
            "article ids in 'qa search' results): %s",
            ", ".join(unmatched[:5]) + (" ..." if len(unmatched) > 5 else ""),
        )
    logger.info("Asked %d questions in %.1fs", len(results), seconds)
    return EvalReport(
        source=source,
        index=str(qa.index_dir),
        generation=qa.generation,
        top_k=top_k,
        results=tuple(results),
        answerable=_answerable_metrics(answerable, top_k),
        unanswerable=len(unanswerable),
        unanswerable_abstained=_share(r.abstained for r in unanswerable),
        kinds=_kind_metrics(results),
        unmatched_articles=unmatched,
        seconds=seconds,
        confidence=_confidence_sweep(results, qa.min_confidence),
    )


# ---------------------------------------------------------------- text
