"""What an evaluation found: per-question results, metrics, and the text table."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from qa.evaluation.questions import EvalQuestion


@dataclass(frozen=True)
class Cited:
    """What one citation pointed at, as kept in the report."""

    number: int
    score: float
    title: str
    article_id: str
    paragraph: int
    sentence: str


@dataclass(frozen=True)
class QuestionResult:
    """One question's outcome. ``rank`` is the first citation that is a hit (1-based) or None."""

    question: EvalQuestion
    abstained: bool
    rank: int | None
    answer_in_sentence: bool | None  # citation 1 is a hit and its sentence holds a gold answer
    cited: tuple[Cited, ...]
    confidence: float | None = None  # the reader's probability that the articles answer

    @property
    def correct(self) -> bool:
        if self.question.answerable:
            return self.rank == 1 and not self.abstained
        return self.abstained

    def to_dict(self) -> dict[str, Any]:
        q = self.question
        return {
            "where": q.where,
            "id": q.id,
            "question": q.text,
            "kind": q.kind,
            "answerable": q.answerable,
            "gold": q.gold(),
            "abstained": self.abstained,
            "rank": self.rank,
            "hit": self.rank == 1,
            "answer_in_sentence": self.answer_in_sentence,
            "correct": self.correct,
            "confidence": self.confidence,
            "cited": [asdict(c) for c in self.cited],
        }


@dataclass(frozen=True)
class AnswerableMetrics:
    """Rates over the answerable questions; None where there is nothing to divide by."""

    questions: int
    hit_at_1: float | None
    hit_at_5: float | None
    hit_at_20: float | None
    mrr_at_10: float | None
    with_answers: int  # answerable questions that give gold answer texts
    sentence_answers: float | None  # of those: citation 1 a hit and its sentence holds an answer
    sentence_answers_given_hit: float | None  # the same among those whose citation 1 is a hit
    abstained: float | None  # false abstentions

    def to_dict(self) -> dict[str, Any]:
        return _metric_names(asdict(self))


@dataclass(frozen=True)
class KindMetrics:
    """Counts and rates for the questions of one ``kind``."""

    kind: str
    questions: int
    answerable: int
    hit_at_1: float | None
    abstained_answerable: float | None
    abstained_unanswerable: float | None

    def to_dict(self) -> dict[str, Any]:
        return _metric_names(asdict(self))


@dataclass(frozen=True)
class ThresholdRow:
    """What answering only at ``min_confidence`` or above would have done to these questions."""

    min_confidence: float
    answerable_abstained: float | None  # false abstentions
    answerable_right: float | None  # answered, and citation 1 is the gold passage
    unanswerable_abstained: float | None


@dataclass(frozen=True)
class ConfidenceSweep:
    """The reader's thresholds tried on the same answers (no question is asked again).

    ``suggested``: the threshold with the fewest mistakes, a false abstention on an answerable
    question weighing as much as an answer to an unanswerable one (each set's rate counts
    alike); None unless the questions have both kinds.
    """

    current: float | None
    rows: tuple[ThresholdRow, ...]
    suggested: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "suggested": self.suggested, "rows": [asdict(r) for r in self.rows]}


def _metric_names(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON keys as the benchmarks write them: hit_at_1 -> hit@1, mrr_at_10 -> mrr@10."""
    return {re.sub(r"_at_(\d+)$", r"@\1", key): value for key, value in fields.items()}


@dataclass(frozen=True)
class EvalReport:
    """What :func:`evaluate` found. ``unmatched_articles``: gold names no citation ever matched."""

    source: str | None
    index: str
    generation: str
    top_k: int
    results: tuple[QuestionResult, ...]
    answerable: AnswerableMetrics
    unanswerable: int
    unanswerable_abstained: float | None
    kinds: tuple[KindMetrics, ...]
    unmatched_articles: tuple[str, ...]
    seconds: float
    confidence: ConfidenceSweep | None = None  # with the reader only

    @property
    def failures(self) -> tuple[QuestionResult, ...]:
        return tuple(r for r in self.results if not r.correct)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "index": self.index,
            "generation": self.generation,
            "top_k": self.top_k,
            "questions": len(self.results),
            "answerable": self.answerable.to_dict(),
            "unanswerable": {"questions": self.unanswerable, "abstained": self.unanswerable_abstained},
            "kinds": [k.to_dict() for k in self.kinds],
            "unmatched_articles": list(self.unmatched_articles),
            "seconds": round(self.seconds, 3),
            "confidence": None if self.confidence is None else self.confidence.to_dict(),
            "failures": [r.to_dict() for r in self.failures],
            "results": [r.to_dict() for r in self.results],
        }

    def table(self, show_failures: int = 10) -> str:
        """A compact table of the metrics, then the first ``show_failures`` failures."""
        return "\n".join(_table_lines(self, show_failures))


# ---------------------------------------------------------------- loading


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table_lines(report: EvalReport, show_failures: int) -> list[str]:
    a = report.answerable
    source = f" from {report.source}" if report.source else ""
    lines = [
        f"{len(report.results)} questions{source} ({a.questions} answerable, {report.unanswerable} not), "
        f"top_k {report.top_k}, index {report.index} ({report.generation}), {report.seconds:.1f}s",
        "",
        f"{'':<24}{'questions':>9}{'hit@1':>8}{'hit@5':>8}{'hit@20':>8}{'MRR@10':>8}{'abstained':>11}",
    ]

    def row(label: str, n: int, rates: Sequence[float | None], abstained: float | None) -> str:
        indent = "  " if label.startswith("kind ") else ""
        cells = "".join(f"{_rate(r):>8}" for r in rates)
        return f"{indent + _short(label, 21 if indent else 23):<24}{n:>9}{cells}{_rate(abstained):>11}"

    none3 = (None, None, None)
    if a.questions:
        rates = (a.hit_at_1, a.hit_at_5, a.hit_at_20, a.mrr_at_10)
        lines.append(row("answerable", a.questions, rates, a.abstained))
        for k in (k for k in report.kinds if k.answerable):
            lines.append(row(f"kind {k.kind}", k.answerable, (k.hit_at_1, *none3), k.abstained_answerable))
    if report.unanswerable:
        lines.append(row("unanswerable", report.unanswerable, (None, *none3), report.unanswerable_abstained))
        for k in (k for k in report.kinds if k.questions > k.answerable):
            n = k.questions - k.answerable
            lines.append(row(f"kind {k.kind}", n, (None, *none3), k.abstained_unanswerable))
    if a.with_answers:
        hits = sum(1 for r in report.results if r.answer_in_sentence is not None and r.rank == 1)
        lines += [
            "",
            f"answering sentence (citation 1 right and its sentence holds a gold answer): "
            f"{_rate(a.sentence_answers)} of {a.with_answers} questions with answers, "
            f"{_rate(a.sentence_answers_given_hit)} of the {hits} whose citation 1 is right",
        ]
    if report.confidence is not None:
        lines += _sweep_lines(report.confidence)
    if report.unmatched_articles:
        lines += ["", "never cited, check the name: " + ", ".join(report.unmatched_articles[:10])]
    failures = report.failures
    lines += ["", f"failures: {len(failures)} of {len(report.results)}"]
    if failures and show_failures > 0:
        lines[-1] += f" (the first {min(show_failures, len(failures))})"
        for r in failures[:show_failures]:
            lines += _failure_lines(r)
    return lines


def _sweep_lines(sweep: ConfidenceSweep) -> list[str]:
    now = f"; now {sweep.current:g}" if sweep.current is not None else ""
    lines = [
        "",
        f"reader's confidence: answers abstain below the threshold{now}",
        f"{'threshold':>11}{'answerable abstained':>22}{'right':>8}{'unanswerable abstained':>24}",
    ]
    for r in sweep.rows:
        lines.append(
            f"{r.min_confidence:>11g}{_rate(r.answerable_abstained):>22}{_rate(r.answerable_right):>8}"
            f"{_rate(r.unanswerable_abstained):>24}"
        )
    if sweep.suggested is not None:
        lines.append(
            f"fewest mistakes on these questions (both kinds counted alike): --min-confidence {sweep.suggested:.2f}"
        )
    return lines


def _failure_lines(r: QuestionResult) -> list[str]:
    q = r.question
    kind = f" [{q.kind}]" if q.kind else ""
    lines = [f"{q.where}{kind}: {_short(q.text)}"]
    if q.answerable:
        gold = f"{q.article}" + (f" ¶{q.paragraph}" if q.paragraph else "")
        if q.answers:
            gold += f", answer {q.answers[0]!r}"
        got = "gold not in the citations" if r.rank is None else f"gold at rank {r.rank}"
        if r.abstained:
            got += ", abstained"
        lines.append(f"    expected {gold}; {got}")
    else:
        lines.append("    expected to abstain (no article answers it); answered")
    for c in r.cited[: 1 if q.answerable and r.rank == 1 else 2]:
        lines.append(f"    [{c.number}] {c.title} ({c.article_id} ¶{c.paragraph}): {_short(c.sentence, 80)}")
    return lines
