"""The ``qa`` command: build, ask, search, info.

Results go to stdout, progress and logs to stderr. Exit 0 on success, 1 with one line for a
problem with the input or the index, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from qa.errors import QAError

EPILOG = """examples:
  qa build examples/articles                 build or update ./index from a folder
  qa build ~/news --index ~/news-index       another folder and index
  qa ask "What did Ukraine vow to do in Bakhmut?"
  qa ask --json "Who won Super Bowl 50?"     the answer and citations as JSON
  qa search "Wagner" --top-k 5
  qa info

The index defaults to $QA_INDEX, else ./index.
"""


def _parser() -> argparse.ArgumentParser:
    default_index = os.environ.get("QA_INDEX", "index")
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Offline question answering over a folder of articles, with exact citations.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_index(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--index", default=default_index, help=f"index folder (default: {default_index})")
        return p

    build = with_index(commands.add_parser("build", help="build or update an index from articles"))
    build.add_argument("articles", help="folder (or file) of .txt .md .html .jsonl articles")
    build.add_argument("--force", action="store_true", help="rebuild and re-embed everything")
    build.add_argument("--json", action="store_true", help="print the build report as JSON")
    build.add_argument("--quiet", action="store_true", help="no progress bars")

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

    info = with_index(commands.add_parser("info", help="describe the index"))
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _cmd_build(args: argparse.Namespace) -> int:
    from qa.build import build_index

    report = build_index(args.articles, args.index, force=args.force, show_progress=not args.quiet)
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from qa.api import QA, check_question, check_top_k

    check_question(args.question)  # fail fast, before the model loads
    check_top_k(args.top_k)
    with QA.open(args.index) as qa:
        answer = qa.ask(args.question, top_k=args.top_k)
    if args.json:
        _print_json(answer.to_dict())
        return 0
    print(answer.text)
    print()
    label = "Closest matches" if answer.abstained else "Sources"
    print(f"{label}:")
    for c in answer.citations:
        print(f"[{c.number}] {c.title} — paragraph {c.paragraph} ({c.source_path}), score {c.score:.3f}")
        print(f"    {c.sentence}")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from qa.api import QA, check_question, check_top_k

    check_question(args.question)
    check_top_k(args.top_k)
    with QA.open(args.index) as qa:
        hits = qa.search(args.question, top_k=args.top_k)
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    for rank, h in enumerate(hits, start=1):
        print(f"{rank}. {h.score:.3f}  {h.title} — paragraph {h.paragraph} ({h.source_path})")
        print(f"    {h.text[:200]}{'…' if len(h.text) > 200 else ''}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from pathlib import Path

    from qa.generations import current_generation
    from qa.index import describe
    from qa.manifest import read_manifest, verify_files

    index_dir = Path(args.index)
    generation = current_generation(index_dir)
    manifest = read_manifest(generation)
    verify_files(generation, manifest)  # info doubles as an integrity check; no model needed
    info = describe(index_dir, generation, manifest)
    if args.json:
        _print_json(info)
        return 0
    counts, model = info["counts"], info["model"]
    print(f"index       {info['index']} ({info['generation']}, {info['size_bytes'] / 2**20:.1f} MiB)")
    print(f"built       {info['created']} by article-qa {info['qa_version']}")
    print(f"source      {info['source']}")
    print(f"articles    {counts['articles']}")
    print(
        f"passages    {counts['passages']} ({counts['boilerplate']} boilerplate, {counts['searchable']} searchable)"
    )
    print(f"model       {model['name']} ({model['dim']}-d), {info['index_type']} index")
    return 0


COMMANDS = {"build": _cmd_build, "ask": _cmd_ask, "search": _cmd_search, "info": _cmd_info}


def configure_logging(*, verbose: bool = False) -> None:
    """For the command line and the app: one line per record on stderr.

    The level goes on the handler too, since some libraries (bm25s) set their own loggers to
    DEBUG and their records would otherwise pass the root logger's level.
    """
    level = logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(verbose=args.verbose)
    try:
        return COMMANDS[args.command](args)
    except QAError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
