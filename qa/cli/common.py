"""What every command shares: the ``--index`` option and JSON on stdout."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, TypeAlias

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"  # each family adds its own


def with_index(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--index`` on a command that reads or writes an index ($QA_INDEX, else ./index)."""
    default_index = os.environ.get("QA_INDEX", "index")
    p.add_argument("--index", default=default_index, help=f"index folder (default: {default_index})")
    return p


def with_min_confidence(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--min-confidence P``: the reader's threshold for answering, instead of its version's."""
    p.add_argument(
        "--min-confidence",
        type=float,
        default=None,
        metavar="P",
        help="answer only when the reader's probability that the articles answer is at least P "
        "(0-1; default: the threshold fitted for the reader; `qa eval` shows each one's trade-off)",
    )
    return p


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
