"""The ``qa`` command: build, ask, search, info, verify, eval, serve, mcp, token, passwd, fetch.

Results go to stdout, progress and logs to stderr. Exit 0 on success, 1 with one line for a
problem with the input or the index, 2 for a usage error. Each command family has its module
here with its options beside it (build, ask: ask and search, info: info and verify, eval,
fetch, passwd, serve: serve, mcp and token); qa.cli.parser puts their options together and :func:`main` runs them.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from qa.cli.ask import run_ask, run_search
from qa.cli.build import run_build
from qa.cli.eval import run_eval
from qa.cli.fetch import run_fetch
from qa.cli.info import run_info, run_verify
from qa.cli.parser import command_parser
from qa.cli.passwd import run_passwd
from qa.cli.serve import run_mcp, run_serve, run_token
from qa.errors import QAError
from qa.logs import configure_logging

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "build": run_build,
    "ask": run_ask,
    "search": run_search,
    "info": run_info,
    "verify": run_verify,
    "eval": run_eval,
    "serve": run_serve,
    "mcp": run_mcp,
    "token": run_token,
    "passwd": run_passwd,
    "fetch": run_fetch,
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
