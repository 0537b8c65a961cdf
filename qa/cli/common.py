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


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
