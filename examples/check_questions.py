"""Check a question file against the articles, using article-qa's own reader.

Usage: python examples/check_questions.py [QUESTIONS_JSONL] [--articles FOLDER]
(defaults: examples/questions/news.jsonl and examples/articles).

Every line must be a JSON object with ``question``, ``article``, ``kind`` and, when ``article``
is not null, a 1-based ``paragraph`` (as the reader numbers paragraphs) and an ``answer`` that
is an exact substring of that paragraph. The paragraph must be article text: not boilerplate,
not a subheading. A ``lede-echo`` answer must lie past the first paragraph, a ``subheading``
answer under a subheading. Unanswerable lines (``"article": null``) are ``off-topic`` or
``near-miss`` and give no paragraph or answer.

Prints a report (lines per kind, boilerplate paragraphs of the articles asked about) and each
bad line with the reason; exits 0 when every line is valid, else 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from qa.ingest import Article, read_corpus

EXAMPLES = Path(__file__).resolve().parent
ANSWERABLE_KINDS = frozenset(
    {"who", "when", "where", "number", "what", "why", "lede-echo", "subheading", "dated"}
)
UNANSWERABLE_KINDS = frozenset({"off-topic", "near-miss"})


def _is_heading(article: Article, index: int) -> bool:
    """Whether paragraph ``index`` (0-based) is a subheading; False for readers without headings."""
    return bool(getattr(article.paragraphs[index], "heading", False))


def check_line(record: Any, articles: dict[str, Article]) -> list[str]:
    """The problems with one question record; empty when it is valid."""
    if not isinstance(record, dict):
        return ["not a JSON object"]
    problems: list[str] = []
    question, name, kind = record.get("question"), record.get("article"), record.get("kind")
    if not isinstance(question, str) or not question.strip():
        problems.append("missing or empty 'question'")
    if "article" not in record:
        problems.append("missing 'article' (null for a question the articles cannot answer)")
    if name is None:
        if kind not in UNANSWERABLE_KINDS:
            problems.append(
                f"kind {kind!r} for an unanswerable question; use one of {sorted(UNANSWERABLE_KINDS)}"
            )
        if record.get("paragraph") is not None or record.get("answer") is not None:
            problems.append("an unanswerable question gives no paragraph or answer")
        return problems
    if kind not in ANSWERABLE_KINDS:
        problems.append(f"kind {kind!r} for an answerable question; use one of {sorted(ANSWERABLE_KINDS)}")
    article = articles.get(name) if isinstance(name, str) else None
    if article is None:
        return [*problems, f"no article {name!r} under the articles folder"]
    number, answer = record.get("paragraph"), record.get("answer")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(article.paragraphs):
        return [*problems, f"paragraph {number!r} is not 1..{len(article.paragraphs)}"]
    paragraph = article.paragraphs[number - 1]
    text = paragraph.text_of(article)
    if not isinstance(answer, str) or not answer:
        problems.append("missing or empty 'answer'")
    elif answer not in text:
        problems.append(f"answer {answer!r} is not in paragraph {number}: {text[:100]!r}")
    if paragraph.boilerplate is not None:
        problems.append(f"paragraph {number} is boilerplate ({paragraph.boilerplate})")
    if _is_heading(article, number - 1):
        problems.append(f"paragraph {number} is a subheading")
    if kind == "lede-echo" and number == 1:
        problems.append("a lede-echo answer must lie past the first paragraph")
    has_headings = any(_is_heading(article, i) for i in range(len(article.paragraphs)))
    if kind == "subheading" and has_headings and not any(_is_heading(article, i) for i in range(number - 1)):
        problems.append(f"no subheading above paragraph {number}")
    return problems


def check_file(questions: Path, folder: Path) -> int:
    """Check every line of ``questions``; print the report and the bad lines; return the exit code."""
    corpus = read_corpus(folder)
    articles = {a.id: a for a in corpus.articles}
    kinds: Counter[str] = Counter()
    asked: list[str] = []
    seen: dict[str, int] = {}
    bad = 0
    lines = questions.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            problems = [f"not valid JSON ({err.msg})"]
        else:
            problems = check_line(record, articles)
            if isinstance(record, dict):
                kinds[str(record.get("kind"))] += 1
                if isinstance(record.get("article"), str):
                    asked.append(record["article"])
                text = str(record.get("question", "")).strip().lower()
                if text in seen:
                    problems.append(f"same question as line {seen[text]}")
                seen.setdefault(text, number)
        if problems:
            bad += 1
            print(f"line {number}: {'; '.join(problems)}\n    {line[:160]}")
    print(f"{questions}: {sum(kinds.values())} lines, {len(asked)} answerable, {bad} bad")
    print("kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    for name in sorted(set(asked) & articles.keys()):
        article = articles[name]
        flagged = [f"{p.number} ({p.boilerplate})" for p in article.paragraphs if p.boilerplate]
        print(f"boilerplate in {name}: {', '.join(flagged) or 'none'}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("questions", nargs="?", type=Path, default=EXAMPLES / "questions" / "news.jsonl")
    parser.add_argument("--articles", type=Path, default=EXAMPLES / "articles")
    args = parser.parse_args(argv)
    return check_file(args.questions, args.articles)


if __name__ == "__main__":
    sys.exit(main())
