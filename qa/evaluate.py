"""Score an index on your own questions: hit@k, MRR@10, answering sentences, abstention.

Questions come as JSON Lines (one ``{"question", "article", "paragraph", "answer", "kind"}``
object a line; ``"article": null`` marks a question the articles cannot answer) or in the SQuAD
v1.1 layout. Each question is asked once with :meth:`qa.QA.ask`; a citation is a hit when it is
the gold article and, if one is given, the gold paragraph. As in ``bench/retrieval.py``, ranks
and answering sentences are scored whether or not the answer abstained; abstention is reported
on its own.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from qa import QA, Answer, BadInputError, Citation

__all__ = ["EvalQuestion", "EvalReport", "QuestionResult", "evaluate", "load_questions"]

logger = logging.getLogger(__name__)

DEFAULT_TOP_K = 20
MAX_TOP_K = 100
MRR_DEPTH = 10
CITED_SHOWN = 3  # citations kept per question in the report
JSONL_KEYS = ("question", "article", "paragraph", "answer", "kind", "id")
EXAMPLE_LINE = '{"question": "How many people lived in Bakhmut?", "article": "russia-reaffirms-bakhmut-push", "paragraph": 3, "answer": "80,000"}'


@dataclass(frozen=True)
class EvalQuestion:
    """A question and its gold: ``article`` None means the articles cannot answer it."""

    text: str
    article: str | None
    paragraph: int | None = None
    answers: tuple[str, ...] = ()
    kind: str | None = None
    id: str | None = None
    where: str = ""  # where the file holds it, for messages: "line 3"

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise BadInputError(f"{self.where or 'question'}: the question is empty.")
        if self.paragraph is not None and (self.article is None or self.paragraph < 1):
            raise BadInputError(f"{self.where or 'question'}: a paragraph needs an article and is 1-based.")

    @property
    def answerable(self) -> bool:
        return self.article is not None

    def gold(self) -> dict[str, Any]:
        return {"article": self.article, "paragraph": self.paragraph, "answers": list(self.answers)}


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
            "failures": [r.to_dict() for r in self.failures],
            "results": [r.to_dict() for r in self.results],
        }

    def table(self, show_failures: int = 10) -> str:
        """A compact table of the metrics, then the first ``show_failures`` failures."""
        return "\n".join(_table_lines(self, show_failures))


# ---------------------------------------------------------------- loading


def load_questions(path: str | os.PathLike[str], *, limit: int | None = None) -> tuple[EvalQuestion, ...]:
    """Read a JSON Lines or SQuAD v1.1 file of questions (the first ``limit`` of them)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise BadInputError(f"limit must be a whole number of at least 1, got {limit!r}.")
    file = Path(path)
    if not file.exists():
        raise BadInputError(
            f"No questions file at '{file}'. Give a .jsonl file with one question per line, e.g. "
            f"{EXAMPLE_LINE}, or a SQuAD v1.1 .json file."
        )
    if file.is_dir():
        raise BadInputError(f"'{file}' is a folder; give the questions file itself.")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise BadInputError(f"'{file}' is not UTF-8 text (byte {err.start}); save it as UTF-8.") from err
    if not text.strip():
        raise BadInputError(f"'{file}' is empty; write one question per line, e.g. {EXAMPLE_LINE}")
    questions = _parse(text, file)
    if not questions:
        raise BadInputError(f"'{file}' holds no questions.")
    return questions[:limit] if limit is not None else questions


def _parse(text: str, file: Path) -> tuple[EvalQuestion, ...]:
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None  # JSON Lines, or broken JSON: the line by line reading names the line
    if isinstance(whole, dict) and "data" in whole:
        return _from_squad(whole, file)
    if whole is not None and not isinstance(whole, dict):
        raise BadInputError(
            f"'{file}' holds a JSON {type(whole).__name__}; expected JSON Lines (one object a line, "
            f'e.g. {EXAMPLE_LINE}) or the SQuAD v1.1 layout {{"data": [...]}}.'
        )
    if isinstance(whole, dict):  # one question, possibly spread over several lines
        return (_from_record(whole, file, "line 1"),)
    questions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise BadInputError(
                f"{file} {where} is not valid JSON ({err.msg}, column {err.colno}); write one object a line, "
                f"e.g. {EXAMPLE_LINE}"
            ) from err
        if not isinstance(record, dict):
            raise BadInputError(
                f'{file} {where}: expected an object like {{"question": ...}}, got JSON {record!r:.40}'
            )
        questions.append(_from_record(record, file, where))
    return tuple(questions)


def _from_record(record: dict[str, Any], file: Path, where: str) -> EvalQuestion:
    at = f"{file} {where}"
    unknown = sorted(set(record) - set(JSONL_KEYS))
    if unknown:
        raise BadInputError(
            f"{at}: unknown key(s) {', '.join(map(repr, unknown))}; the keys are {', '.join(JSONL_KEYS)}."
        )
    if "question" not in record:
        raise BadInputError(f'{at}: no "question"; every line needs one, e.g. {EXAMPLE_LINE}')
    text = record["question"]
    if not isinstance(text, str) or not text.strip():
        raise BadInputError(f'{at}: "question" must be non-empty text, got {text!r:.40}.')
    article = record.get("article")
    if article is not None and (not isinstance(article, str) or not article.strip()):
        raise BadInputError(
            f'{at}: "article" must be the gold article\'s name (id, file name or title), or null '
            f"when the articles cannot answer the question; got {article!r:.40}."
        )
    paragraph = record.get("paragraph")
    if paragraph is not None:
        if isinstance(paragraph, bool) or not isinstance(paragraph, int) or paragraph < 1:
            raise BadInputError(
                f'{at}: "paragraph" must be a whole number from 1 (paragraphs are numbered from 1, '
                f"as in citations), got {paragraph!r:.40}."
            )
        if article is None:
            raise BadInputError(f'{at}: "paragraph" is given but "article" is null; name the article.')
    answers = record.get("answer")
    if answers is None:
        answers = []
    elif isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise BadInputError(f'{at}: "answer" must be text or a list of texts, got {answers!r:.40}.')
    if answers and article is None:
        raise BadInputError(f'{at}: "answer" is given but "article" is null; name the article.')
    kind = record.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise BadInputError(f'{at}: "kind" must be text, got {kind!r:.40}.')
    qid = record.get("id")
    if qid is not None and (isinstance(qid, bool) or not isinstance(qid, str | int)):
        raise BadInputError(f'{at}: "id" must be text or a number, got {qid!r:.40}.')
    return EvalQuestion(
        text=text.strip(),
        article=article.strip() if article is not None else None,
        paragraph=paragraph,
        answers=tuple(answers),
        kind=kind,
        id=None if qid is None else str(qid),
        where=where,
    )


def _from_squad(whole: dict[str, Any], file: Path) -> tuple[EvalQuestion, ...]:
    """SQuAD v1.1: article = title with "_" as spaces, paragraph = its position + 1."""

    def fail(where: str, what: str) -> BadInputError:
        return BadInputError(f"{file} {where}: {what} (expected the SQuAD v1.1 layout).")

    data = whole["data"]
    if not isinstance(data, list):
        raise fail('"data"', "must be a list of articles")
    questions = []
    for a, article in enumerate(data):
        if not isinstance(article, dict) or not isinstance(article.get("title"), str):
            raise fail(f"data[{a}]", 'an article needs a "title" text')
        title = article["title"].replace("_", " ").strip()
        paragraphs = article.get("paragraphs")
        if not isinstance(paragraphs, list):
            raise fail(f"data[{a}]", 'an article needs a "paragraphs" list')
        for p, paragraph in enumerate(paragraphs):
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            if not isinstance(qas, list):
                raise fail(f"data[{a}].paragraphs[{p}]", 'a paragraph needs a "qas" list')
            for i, qa in enumerate(qas):
                where = f"data[{a}].paragraphs[{p}].qas[{i}]"
                text = qa.get("question") if isinstance(qa, dict) else None
                if not isinstance(text, str) or not text.strip():
                    raise fail(where, 'needs a non-empty "question"')
                answers = qa.get("answers", [])
                if not isinstance(answers, list) or not all(
                    isinstance(x, dict) and isinstance(x.get("text"), str) for x in answers
                ):
                    raise fail(where, '"answers" must be a list of {"text": ...}')
                impossible = qa.get("is_impossible") is True  # SQuAD 2.0's unanswerable questions
                questions.append(
                    EvalQuestion(
                        text=text.strip(),
                        article=None if impossible else title,
                        paragraph=None if impossible else p + 1,
                        answers=() if impossible else tuple(x["text"] for x in answers if x["text"].strip()),
                        id=str(qa["id"]) if "id" in qa else None,
                        where=where,
                    )
                )
    return tuple(questions)


# ---------------------------------------------------------------- scoring


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
    return QuestionResult(q, answer.abstained, rank, in_sentence, cited)


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
    )


# ---------------------------------------------------------------- text


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
    if report.unmatched_articles:
        lines += ["", "never cited, check the name: " + ", ".join(report.unmatched_articles[:10])]
    failures = report.failures
    lines += ["", f"failures: {len(failures)} of {len(report.results)}"]
    if failures and show_failures > 0:
        lines[-1] += f" (the first {min(show_failures, len(failures))})"
        for r in failures[:show_failures]:
            lines += _failure_lines(r)
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
