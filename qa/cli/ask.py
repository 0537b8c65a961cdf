"""``qa ask`` and ``qa search``: an answer with citations, or the passages that match best."""

from __future__ import annotations

import argparse
from typing import Any

from qa.cli.common import Subcommands, print_json, with_index, with_min_confidence


def add_ask(commands: Subcommands) -> None:
    for name, help_text, default_k in (
        ("ask", "answer a question with citations", 5),
        ("search", "list the passages that match best", 10),
    ):
        p = with_index(commands.add_parser(name, help=help_text))
        p.add_argument("question", metavar="QUESTION" if name == "ask" else "QUERY")
        p.add_argument(
            "--top-k", type=int, default=default_k, help=f"passages to return (default {default_k})"
        )
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.add_argument(
            "--as-of",
            metavar="DATE",
            help="ask as of this date (ISO 8601; default now): nothing published later is cited",
        )
        p.add_argument("--since", metavar="DATE", help="only articles published on or after DATE")
        p.add_argument("--until", metavar="DATE", help="only articles published on or before DATE")
        p.add_argument(
            "--source",
            action="append",
            metavar="NAME",
            help="only articles from this site (URL host), folder or file; repeat for more",
        )
        p.add_argument(
            "--no-reader",
            dest="reader",
            action="store_false",
            help="skip the reader (faster; ranks and abstains on retrieval scores alone)",
        )
        if name == "ask":
            with_min_confidence(p)


def _scope(args: argparse.Namespace) -> dict[str, Any]:
    """--as-of, --since, --until and --source as ask/search keywords, checked before the model loads."""
    from qa.search.inputs import check_scope

    scope = {"as_of": args.as_of, "since": args.since, "until": args.until, "sources": args.source}
    check_scope(**scope)  # a bad date is reported at once
    return scope


def run_ask(args: argparse.Namespace) -> int:
    from qa import QA, index_info
    from qa.search.inputs import check_min_confidence, check_question, check_top_k

    check_question(args.question)  # fail fast, before the model loads
    check_top_k(args.top_k)
    check_min_confidence(args.min_confidence)
    scope = _scope(args)
    index_info(args.index)  # a missing or damaged index is reported before the model loads
    with QA.open(args.index, reader=args.reader, min_confidence=args.min_confidence) as qa:
        answer = qa.ask(args.question, top_k=args.top_k, **scope)
    if args.json:
        print_json(answer.to_dict())
        return 0
    print(answer.text)
    print()
    label = "Closest matches" if answer.abstained else "Sources"
    if answer.confidence is not None:
        label += f" (reader's confidence that the articles answer: {answer.confidence:.2f})"
    print(f"{label}:")
    for c in answer.citations:
        where = f"paragraph {c.paragraph}" + (f", p. {c.page}" if c.page else "")
        print(f"[{c.number}] {c.title} — {where} ({c.source_path}), score {c.score:.3f}")
        print(f"    {c.sentence}")
        if c.also_in:
            print(f"    also published in: {', '.join(c.also_in)}")
    return 0


def run_search(args: argparse.Namespace) -> int:
    from qa import QA, index_info
    from qa.search.inputs import check_question, check_top_k

    check_question(args.question)
    check_top_k(args.top_k)
    scope = _scope(args)
    index_info(args.index)
    with QA.open(args.index, reader=args.reader) as qa:
        hits = qa.search(args.question, top_k=args.top_k, **scope)
    if args.json:
        print_json([h.to_dict() for h in hits])
        return 0
    for rank, h in enumerate(hits, start=1):
        where = f"paragraph {h.paragraph}" + (f", p. {h.page}" if h.page else "")
        print(f"{rank}. {h.score:.3f}  {h.title} — {where} ({h.source_path})")
        print(f"    {h.text[:200]}{'…' if len(h.text) > 200 else ''}")
    return 0
