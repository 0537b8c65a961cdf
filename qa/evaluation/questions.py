"""Evaluation questions from JSON Lines or the SQuAD v1.1 layout, checked line by line."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa import BadInputError

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
