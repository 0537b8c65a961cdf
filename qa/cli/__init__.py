"""The ``qa`` command: build, ask, search, info, eval, passwd.

Results go to stdout, progress and logs to stderr. Exit 0 on success, 1 with one line for a
problem with the input or the index, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from qa.cli_options import command_parser
from qa.errors import QAError
from qa.logs import configure_logging


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _cmd_build(args: argparse.Namespace) -> int:
    from qa.build import build_index

    report = build_index(
        args.articles,
        args.index,
        force=args.force,
        show_progress=not args.quiet,
        model=args.model,
        abstain_below=args.abstain_below,
        vector_store=args.vector_store,
        device=args.device,
        engine=args.engine,
        ray_address=args.ray_address,
        ray_actors=args.ray_actors,
        compact=args.compact,
        follow_symlinks=args.follow_symlinks,
    )
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.summary())
    return 0


def _scope(args: argparse.Namespace) -> dict[str, Any]:
    """--as-of, --since, --until and --source as ask/search keywords, checked before the model loads."""
    from qa.api import check_scope

    scope = {"as_of": args.as_of, "since": args.since, "until": args.until, "sources": args.source}
    check_scope(**scope)  # a bad date is reported at once
    return scope


def _cmd_ask(args: argparse.Namespace) -> int:
    from qa import QA, index_info
    from qa.api import check_question, check_top_k

    check_question(args.question)  # fail fast, before the model loads
    check_top_k(args.top_k)
    scope = _scope(args)
    index_info(args.index)  # a missing or damaged index is reported before the model loads
    with QA.open(args.index) as qa:
        answer = qa.ask(args.question, top_k=args.top_k, **scope)
    if args.json:
        _print_json(answer.to_dict())
        return 0
    print(answer.text)
    print()
    label = "Closest matches" if answer.abstained else "Sources"
    print(f"{label}:")
    for c in answer.citations:
        where = f"paragraph {c.paragraph}" + (f", p. {c.page}" if c.page else "")
        print(f"[{c.number}] {c.title} — {where} ({c.source_path}), score {c.score:.3f}")
        print(f"    {c.sentence}")
        if c.also_in:
            print(f"    also published in: {', '.join(c.also_in)}")
    return 0


def _cmd_search(args: argparse.Namespace) -> int:
    from qa import QA, index_info
    from qa.api import check_question, check_top_k

    check_question(args.question)
    check_top_k(args.top_k)
    scope = _scope(args)
    index_info(args.index)
    with QA.open(args.index) as qa:
        hits = qa.search(args.question, top_k=args.top_k, **scope)
    if args.json:
        _print_json([h.to_dict() for h in hits])
        return 0
    for rank, h in enumerate(hits, start=1):
        where = f"paragraph {h.paragraph}" + (f", p. {h.page}" if h.page else "")
        print(f"{rank}. {h.score:.3f}  {h.title} — {where} ({h.source_path})")
        print(f"    {h.text[:200]}{'…' if len(h.text) > 200 else ''}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from qa import verify_index

    info = verify_index(args.index)  # raises IndexCorruptError naming the damaged file
    if args.json:
        _print_json(info.to_dict())
        return 0
    where = f" and its {info.searchable:,} vectors in Milvus" if info.vector_store else ""
    print(
        f"ok: {info.index} ({info.generation}): every file matches its sha256{where}, {info.size_bytes / 2**20:.1f} MiB read"
    )
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from qa import index_info

    info = index_info(args.index)  # doubles as an integrity check; no model needed
    if args.json:
        _print_json(info.to_dict())
        return 0
    parts = "" if info.parts == 1 else f", {info.parts} parts"
    print(f"index       {info.index} ({info.generation}{parts}, {info.size_bytes / 2**20:.1f} MiB)")
    print(f"built       {info.created} by article-qa {info.qa_version}")
    print(f"source      {info.source}")
    print(f"articles    {info.articles}")
    print(
        f"passages    {info.passages} ({info.boilerplate} boilerplate, {info.headings} headings, "
        f"{info.searchable} searchable)"
    )
    model = info.model if info.model_path is None else f"{info.model} from {info.model_path}"
    index_type = (
        info.index_type if info.ef_search is None else f"{info.index_type} (efSearch {info.ef_search})"
    )
    print(f"model       {model} ({info.dim}-d), {index_type} index, abstains below {info.abstain_below:.2f}")
    print(f"vectors     {info.vectors} cached in {info.segments} segment(s)")
    if info.vector_store:
        print(f"vectors     in Milvus: {info.vector_store}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from qa import QA, BadInputError
    from qa.evaluation import MAX_TOP_K, evaluate, load_questions

    questions = load_questions(args.file, limit=args.limit)  # fail fast, before the model loads
    if not 1 <= args.top_k <= MAX_TOP_K:
        raise BadInputError(f"--top-k must be from 1 to {MAX_TOP_K}, got {args.top_k}.")
    if args.show_failures < 0:
        raise BadInputError(f"--show-failures must be 0 or more, got {args.show_failures}.")
    with QA.open(args.index) as qa:
        report = evaluate(qa, questions, top_k=args.top_k, show_progress=not args.quiet, source=args.file)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.table(show_failures=args.show_failures))
    return 0


def _read_password(user: str, from_stdin: bool) -> str:
    import getpass

    from qa import BadInputError
    from qa.web.auth import check_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInputError(
                "No password on stdin. Pipe it in as one line, or leave out --password-stdin."
            )
        check_password(password)
        return password
    try:
        password = getpass.getpass(f"Password for {user}: ")
        check_password(password)  # before asking again
        again = getpass.getpass("Repeat it: ")
    except EOFError:
        raise BadInputError(
            "No terminal to ask for the password on. Pipe it in with --password-stdin."
        ) from None
    if again != password:
        raise BadInputError("The two passwords differ; nothing was changed. Run the command again.")
    return password


def _cmd_passwd(args: argparse.Namespace) -> int:
    from qa import BadInputError
    from qa.web.auth import check_user, read_auth_file, set_password

    check_user(args.user)  # before asking for a password
    try:
        existed = args.user in read_auth_file(args.file)
    except BadInputError:  # missing, empty or damaged: set_password adds the user or says why not
        existed = False
    password = _read_password(args.user, args.password_stdin)
    set_password(args.file, args.user, password)
    print(
        f"{'Updated' if existed else 'Added'} user {args.user} in {args.file}. "
        f"Start the web chat with: python app.py --auth-file {args.file}"
    )
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from qa import BadInputError
    from qa.fetch import FetchSettings, fetch, read_url_list

    if args.min_interval < 0 or args.timeout <= 0 or args.max_mb <= 0:
        raise BadInputError("--min-interval must be 0 or more; --timeout and --max-mb more than 0.")
    urls = [*args.urls, *(read_url_list(args.from_file) if args.from_file else [])]
    settings = FetchSettings(
        allow_private=args.allow_private,
        min_interval=args.min_interval,
        timeout=args.timeout,
        max_bytes=int(args.max_mb * 1024 * 1024),
    )
    report = fetch(args.into, urls, args.feed, settings)
    for url, reason in report.skipped:
        print(f"skipped {url}: {reason}", file=sys.stderr)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(f"{report.summary()} into {args.into}. Index them with: qa build {args.into}")
    return 0 if report.saved or report.unchanged or not report.skipped else 1


COMMANDS = {
    "build": _cmd_build,
    "ask": _cmd_ask,
    "search": _cmd_search,
    "info": _cmd_info,
    "verify": _cmd_verify,
    "eval": _cmd_eval,
    "passwd": _cmd_passwd,
    "fetch": _cmd_fetch,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = command_parser().parse_args(argv)
    configure_logging(verbose=args.verbose)
    try:
        return COMMANDS[args.command](args)
    except QAError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `qa search ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except OSError as err:  # a file or folder the command could not use (permissions, space)
        where = f"'{err.filename}': " if err.filename else ""
        print(
            f"error: {where}{err.strerror or err}. Check that path and run the command again.",
            file=sys.stderr,
        )
        return 1
    except Exception as err:  # a bug: one line for the person; the traceback with --verbose
        if args.verbose:
            traceback.print_exc()
        print(
            f"error: unexpected {type(err).__name__}: {err}. This is a bug in article-qa: run the "
            "command again with --verbose to see where, and report it.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
