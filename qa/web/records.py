"""What the chat writes down: feedback lines beside the index, and chat exports.

Feedback goes to ``<index>/feedback.jsonl`` (one JSON object per line, appended under a lock so
concurrent sessions never interleave); exports are Markdown and JSON files a user downloads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.results import Answer, Citation
from qa.web.session import Entry

FEEDBACK_FILE = "feedback.jsonl"
WRONG_CITATION = "Wrong citation"
_append_lock = threading.Lock()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def feedback_record(
    entry: Entry, generation: str, liked: bool | str, when: str | None = None
) -> dict[str, Any]:
    """One feedback line: the question, the answer, its citation keys, the index generation."""
    if liked is True or liked == "Like":
        rating, reason = "up", None
    elif liked is False or liked == "Dislike":
        rating, reason = "down", None
    else:
        rating, reason = "down", str(liked)  # any other option is a reason to dislike
    answer = entry.answer
    return {
        "time": when or _now(),
        "rating": rating,
        "reason": reason,
        "question": entry.question,
        "answer": answer.text if answer else None,
        "abstained": answer.abstained if answer else None,
        "confidence": answer.confidence if answer else None,  # to refit the threshold on feedback
        "resolved_query": answer.resolved_query if answer else None,
        "citation_keys": [c.passage_key for c in answer.citations] if answer else [],
        "generation": generation,
    }


def append_feedback(index_dir: Path, record: dict[str, Any]) -> Path:
    """Append ``record`` as one line to the index's feedback file; returns the file."""
    path = index_dir / FEEDBACK_FILE
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with _append_lock, path.open("a", encoding="utf-8") as out:
        out.write(line)
    return path


def _citation_record(c: Citation) -> dict[str, Any]:
    return {
        "number": c.number,
        "title": c.title,
        "article_id": c.article_id,
        "paragraph": c.paragraph,
        "sentence": c.sentence,
        "url": c.url,
        "published": c.published,
        "passage_key": c.passage_key,
        "confidence": c.confidence,
    }


def chat_json(entries: Sequence[Entry], generation: str) -> str:
    """Every question, answer and citation of the chat as a JSON document."""
    turns = []
    for e in entries:
        answer: Answer | None = e.answer
        turns.append(
            {
                "question": e.question,
                "answer": answer.text if answer else None,
                "abstained": answer.abstained if answer else None,
                "confidence": answer.confidence if answer else None,
                "resolved_query": answer.resolved_query if answer else None,
                "error": e.error,
                "citations": [_citation_record(c) for c in answer.citations] if answer else [],
            }
        )
    document = {"exported": _now(), "generation": generation, "turns": turns}
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def chat_markdown(entries: Sequence[Entry], generation: str) -> str:
    """The chat as a Markdown document a person can read and share."""
    lines = [f"# Chat export ({_now()}, index {generation})", ""]
    for turn, e in enumerate(entries, 1):
        lines += [f"## {turn}. {e.question}", ""]
        if e.answer is None:
            lines += [f"Error: {e.error}", ""]
            continue
        answer = e.answer
        if answer.resolved_query != answer.question:
            lines += [f"_Searched as: {answer.resolved_query}_", ""]
        lines += ["Not found in the articles." if answer.abstained else answer.text, ""]
        label = "Closest matches" if answer.abstained else "Sources"
        if answer.citations:
            lines += [f"{label}:", ""]
        for c in answer.citations:
            where = f"{c.title}, paragraph {c.paragraph}" + (f" ({c.url})" if c.url else "")
            lines.append(f"- [{c.number}] {where}: “{c.sentence}”")
        lines.append("")
    return "\n".join(lines)


def write_exports(entries: Sequence[Entry], generation: str, folder: Path) -> tuple[Path, Path]:
    """Write ``chat.md`` and ``chat.json`` into ``folder``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    markdown, document = folder / "chat.md", folder / "chat.json"
    markdown.write_text(chat_markdown(entries, generation), encoding="utf-8")
    document.write_text(chat_json(entries, generation), encoding="utf-8")
    return markdown, document
