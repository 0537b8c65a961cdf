"""``qa eval``: score the index on your own questions."""

from __future__ import annotations

import argparse

from qa.cli.common import Subcommands, print_json, with_index, with_min_confidence


def add_eval(commands: Subcommands) -> None:
    ev = with_index(commands.add_parser("eval", help="score the index on your own questions"))
    ev.add_argument(
        "file",
        metavar="FILE",
        help='questions: JSON Lines, one {"question", "article", "paragraph", "answer", "kind"} a line '
        '("article": null when the articles cannot answer), or a SQuAD v1.1 .json file',
    )
    ev.add_argument("--top-k", type=int, default=20, help="citations asked for per question (default 20)")
    ev.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N questions")
    ev.add_argument(
        "--show-failures", type=int, default=10, metavar="N", help="failures to list (default 10)"
    )
    ev.add_argument("--json", action="store_true", help="print the whole report as JSON")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.add_argument(
        "--no-reader", dest="reader", action="store_false", help="score the fast path (no reader)"
    )
    with_min_confidence(ev)


def run_eval(args: argparse.Namespace) -> int:
    from qa import QA, BadInputError
    from qa.evaluation import MAX_TOP_K, evaluate, load_questions
    from qa.search.inputs import check_min_confidence

    questions = load_questions(args.file, limit=args.limit)  # fail fast, before the model loads
    if not 1 <= args.top_k <= MAX_TOP_K:
        raise BadInputError(f"--top-k must be from 1 to {MAX_TOP_K}, got {args.top_k}.")
    if args.show_failures < 0:
        raise BadInputError(f"--show-failures must be 0 or more, got {args.show_failures}.")
    check_min_confidence(args.min_confidence)
    with QA.open(args.index, reader=args.reader, min_confidence=args.min_confidence) as qa:
        report = evaluate(qa, questions, top_k=args.top_k, show_progress=not args.quiet, source=args.file)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.table(show_failures=args.show_failures))
    return 0
