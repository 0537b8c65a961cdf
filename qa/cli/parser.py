"""The ``qa`` command's options: the top-level parser, to which each command family (qa.cli.build,
ask, info, eval, serve, passwd, fetch) adds its own subcommands; qa.cli runs them."""

from __future__ import annotations

import argparse

from qa.cli.ask import add_ask
from qa.cli.build import add_build
from qa.cli.eval import add_eval
from qa.cli.fetch import add_fetch
from qa.cli.info import add_info
from qa.cli.passwd import add_passwd
from qa.cli.serve import add_serve

EPILOG = """examples:
  qa build examples/articles                 build or update ./index from a folder
  qa build ~/news --index ~/news-index       another folder and index
  qa ask "What did Ukraine vow to do in Bakhmut?"
  qa ask --json "Who won Super Bowl 50?"     the answer and citations as JSON
  qa search "Wagner" --top-k 5
  qa info
  qa verify                                  check every byte of the index (opening only samples)
  qa eval questions.jsonl --json             score the index on your own questions
  qa token add tokens.txt cms                make an API token, then: qa serve --token-file tokens.txt
  qa serve                                   the JSON API on 127.0.0.1:8000 (MCP at /mcp)
  qa mcp                                     MCP over stdio, for an assistant to start
  qa passwd users.txt alice                  add a login, then: python app.py --auth-file users.txt

The index defaults to $QA_INDEX, else ./index.
"""


def command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa",
        description="Offline question answering over a folder of articles, with exact citations.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_family in (
        add_build,
        add_ask,
        add_info,
        add_eval,
        add_serve,
        add_passwd,
        add_fetch,
    ):  # `qa --help` order
        add_family(commands)
    return parser
